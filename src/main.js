import { createApp } from 'vue';
import * as api from './api/index.js';
import { participantApi } from './api/participation.js';
import App from './App.vue';
import { probes } from './probes.js';
import { createAppRouter } from './router.js';
import { createDevice } from './services/device.js';
import { memoryDraftStore, openDraftStore } from './services/draftStore.js';
import { SERVICES } from './services/index.js';
import { createPersistence } from './services/persistence.js';
import { createSync } from './services/sync.js';
import { createTabChannel } from './services/tabs.js';
import { createAppStore } from './store/index.js';
import './styles.css';

// The services, made here once and handed to what uses them.
const drafts = typeof indexedDB === 'undefined' ? memoryDraftStore() : openDraftStore();
const device = createDevice();
const persistence = createPersistence({ drafts });
// A study's participant arrives by the study link: their images open and save through the participation API.
const inStudy = window.location.pathname.startsWith('/s/');
const client = inStudy ? participantApi(api) : api;
const sync = createSync({ api: client, drafts, device });
const store = createAppStore({ api: client, drafts, persistence, sync, tabs: createTabChannel() });
const router = createAppRouter(store);
window.addEventListener('online', () => sync.retryNow());

// Hooks for the end-to-end tests and benchmarks: the store (read), the probes (installed by a benchmark).
window.__eyetagger = { store, probes };

if ('serviceWorker' in navigator && import.meta.env.PROD) {
  // The app shell and the images seen are kept by the service worker, so a reload works offline.
  navigator.serviceWorker.register('/sw.js').catch((error) => console.warn('No offline shell:', error));
}

createApp(App).use(store).use(router).provide(SERVICES, { device }).mount('#app');
