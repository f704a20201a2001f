import { createApp } from 'vue';
import * as api from './api/index.js';
import App from './App.vue';
import { probes } from './probes.js';
import { createAppRouter } from './router.js';
import { createDevice } from './services/device.js';
import { memoryDraftStore, openDraftStore } from './services/draftStore.js';
import { SERVICES } from './services/index.js';
import { createPersistence } from './services/persistence.js';
import { createSync } from './services/sync.js';
import { createAppStore } from './store/index.js';
import './styles.css';

// The services, made here once and handed to what uses them.
const drafts = typeof indexedDB === 'undefined' ? memoryDraftStore() : openDraftStore();
const device = createDevice();
const persistence = createPersistence({ drafts });
const sync = createSync({ api, drafts, device });
const store = createAppStore({ api, drafts, persistence, sync });
const router = createAppRouter(store);
window.addEventListener('online', () => sync.retryNow());

// Hooks for the end-to-end tests and benchmarks: the store (read), the probes (installed by a benchmark).
window.__eyetagger = { store, probes };

if ('serviceWorker' in navigator && import.meta.env.PROD) {
  // The app shell and the images seen are kept by the service worker, so a reload works offline.
  navigator.serviceWorker.register('/sw.js').catch((error) => console.warn('No offline shell:', error));
}

createApp(App).use(store).use(router).provide(SERVICES, { device }).mount('#app');
