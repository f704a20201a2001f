/**
 * The app's services, created once in main.js and handed to what uses them: the store gets
 * sync, persistence and the draft store as arguments; components inject what they need
 * (`useServices()`): today the canvas, which tells the device which pointers draw.
 */

import { inject } from 'vue';

/** The key under which main.js provides {device}. */
export const SERVICES = Symbol('services');

/** Return the services main.js provides. */
export function useServices() {
  return inject(SERVICES);
}
