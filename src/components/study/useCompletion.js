/** What a text step's page does to complete its step: one request at a time, its refusal shown. */

import { ref } from 'vue';

/**
 * Return {busy, error, send}: send(payload) completes the step through `complete` (the store's
 * study/completeStep), with busy true meanwhile and the server's refusal in error; it resolves
 * to true when the step was completed.
 */
export function useCompletion(complete) {
  const busy = ref(false);
  const error = ref('');
  async function send(payload) {
    busy.value = true;
    error.value = '';
    try {
      await complete(payload);
      return true;
    } catch (e) {
      error.value = e.message;
      return false;
    } finally {
      busy.value = false;
    }
  }
  return { busy, error, send };
}
