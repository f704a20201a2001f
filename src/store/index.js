/**
 * The app's Vuex store: namespaced modules, made with the services main.js creates (the REST
 * client, the draft store, persistence and sync) and passed in; the store is the sync
 * service's one listener.
 */

import { createStore } from 'vuex';
import { createAnnotationModule } from './modules/annotation.js';
import { createAuthModule } from './modules/auth.js';
import { createDatasetsModule } from './modules/datasets.js';
import { createNavigationModule } from './modules/navigation.js';
import { createStudyModule } from './modules/study.js';
import { createSyncModule } from './modules/sync.js';
import { createToolsModule, toolsMemoryPlugin } from './modules/tools.js';

export function createAppStore({ api, drafts, persistence, sync, tabs = null }) {
  const store = createStore({
    strict: false, // strokes are markRaw and replaced, not deep-watched: strict mode would walk them
    modules: {
      auth: createAuthModule(api),
      datasets: createDatasetsModule(api),
      annotation: createAnnotationModule({ drafts, persistence, sync }),
      navigation: createNavigationModule({ api, drafts, sync }),
      study: createStudyModule({ participation: api.participation, prefetch: api.images.prefetch, sync }),
      sync: createSyncModule(),
      tools: createToolsModule(),
    },
    plugins: [toolsMemoryPlugin],
  });
  listenToSync(store, sync, tabs);
  return store;
}

/**
 * Show what the sync service reports, apply the server's answers to the drafts, tell the other
 * tabs what was stored and hear theirs, and queue the annotator's unsent drafts at every sign-in
 * (the open one as it stands here, not as stored).
 */
function listenToSync(store, sync, tabs) {
  sync.listen({
    status: (status) => store.commit('sync/setStatus', status),
    saved: (key, ack) => store.dispatch('annotation/noteSaved', { key, ...ack }),
    conflict: (key, current) => store.dispatch('annotation/noteConflict', { key, current }),
    full: (draft, rev) => store.dispatch('annotation/noteFull', { draft, rev }),
    published: (key, stored) => tabs && tabs.announce({ key, ...stored }),
  });
  // Another tab of this browser stored a version of an image: the open one here may now be stale.
  if (tabs) tabs.listen((message) => store.dispatch('annotation/noteStoredElsewhere', message));
  store.watch(
    (state) => state.auth.user,
    (user) => user && sync.queueStored(user.id, store.getters['annotation/currentDraft']),
  );
}
