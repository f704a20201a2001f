/**
 * Hand Vuex actions the services they use as their first argument:
 * `action(services, context, payload)`. The store's modules are made with the services that
 * main.js creates (api, drafts, ...), so each action's dependencies show in its signature
 * instead of being hung on the store, in the way redux-thunk's `withExtraArgument` hands
 * thunks their API. The actions themselves stay plain module-level functions, as in the
 * Vuex examples.
 */
export function withServices(services, actions) {
  return Object.fromEntries(
    Object.entries(actions).map(([name, action]) => [name, (context, payload) => action(services, context, payload)]),
  );
}
