import { createApp } from 'vue';
import * as api from './api/index.js';
import App from './App.vue';
import { createAppRouter } from './router.js';
import { probes } from './probes.js';
import { createAppStore } from './store/index.js';
import { memoryDraftStore, openDraftStore } from './store/plugins/draftStore.js';
import './styles.css';

const drafts = typeof indexedDB === 'undefined' ? memoryDraftStore() : openDraftStore();
const store = createAppStore({ api, drafts });
const router = createAppRouter(store);

// Read-only hooks for the end-to-end tests and benchmarks (the mask is set by the canvas).
window.__eyetagger = { store, probes };

if ('serviceWorker' in navigator && import.meta.env.PROD) {
  // The app shell and the images seen are kept by the service worker, so a reload works offline.
  navigator.serviceWorker.register('/sw.js').catch((error) => console.warn('No offline shell:', error));
}

createApp(App).use(store).use(router).mount('#app');
