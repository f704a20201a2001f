/** The app's Vuex store: namespaced modules, with persistence and sync as plugins. */

import { createStore } from 'vuex';
import { createAnnotationModule } from './modules/annotation.js';
import { createAuthModule } from './modules/auth.js';
import { createDatasetsModule } from './modules/datasets.js';
import { createNavigationModule } from './modules/navigation.js';
import { createSyncModule } from './modules/sync.js';
import { createToolsModule, toolsMemoryPlugin } from './modules/tools.js';
import { createPersistencePlugin } from './plugins/persistence.js';
import { createSyncPlugin } from './plugins/sync.js';

export function createAppStore({ api, drafts }) {
  let store = null;
  store = createStore({
    strict: false, // strokes are markRaw and replaced, not deep-watched: strict mode would walk them
    modules: {
      auth: createAuthModule(api),
      datasets: createDatasetsModule(api),
      annotation: createAnnotationModule({}),
      navigation: createNavigationModule({ api, drafts }),
      sync: createSyncModule(),
      tools: createToolsModule(),
    },
    plugins: [
      toolsMemoryPlugin,
      createSyncPlugin({ api, drafts }),
      createPersistencePlugin({ drafts, onPersisted: (key) => store.$afterPersist(key) }),
    ],
  });
  return store;
}
