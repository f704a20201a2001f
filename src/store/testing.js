/**
 * What the store's specs share: a fake API with the server's answers (saves, the queue of
 * leased images, skips, full images), localStorage for Node, and a store with an image open.
 * Imported by specs only.
 */

import { afterEach, beforeEach, vi } from 'vitest';
import { ApiError } from '../api/client.js';
import { createAppStore } from './index.js';
import { createDevice } from '../services/device.js';
import { memoryDraftStore } from '../services/draftStore.js';
import { createPersistence } from '../services/persistence.js';
import { createSync } from '../services/sync.js';

export const IMAGE = { id: 5, width: 20, height: 10, short_id: 'abcd1234', file_url: '/api/images/5/file/' };
export const DATASET = { id: 1, name: 'Demo', question: 'Real or fake?', choices: ['real', 'fake'], required: { choice: true, mask: true, text: false } };

export const image = (id) => ({ ...IMAGE, id, file_url: `/api/images/${id}/file/` });
export const PROGRESS = { done: 1, skipped: 0, in_progress: 3, total: 5, active_ms: 0, finished: false };

/** A fake API: `queue` is what the server has leased to the annotator, in order (its first is `image`). */
export function fakeApi() {
  const api = {
    online: true,
    saved: [],
    skips: [],
    prefetched: [],
    full: new Set(),
    resumed: false,
    queue: [5, 6, 7, 8],
    history: [], // the annotator's annotations of the dataset: [{image, status, started_at}]
    annotation: { version: 0, strokes: [], label: null, text: '', status: 'draft', started_at: null },
    check() {
      if (!api.online) throw new ApiError(0, null);
    },
    handout() {
      const [first, ...ahead] = api.queue;
      return { image: first ? image(first) : null, ahead: ahead.map(image), progress: { ...PROGRESS, skipped: api.skips.length }, lease: first ? { resumed: api.resumed } : null };
    },
    auth: {},
    datasets: {
      next: async () => (api.check(), api.handout()),
    },
    images: {
      get: async (id) => (api.check(), image(id)),
      annotation: async () => (api.check(), api.annotation),
      saveAnnotation: async (id, json) => {
        api.check();
        if (api.full.has(id)) throw new ApiError(409, { code: 'image_full', detail: 'This image already has the 1 annotator(s) it needs.' });
        const body = JSON.parse(json);
        api.saved.push({ id, body });
        api.annotation = { ...body, version: body.version + 1 };
        if (body.status === 'submitted') api.queue = api.queue.filter((i) => i !== id);
        return api.annotation;
      },
      skip: async (id, reason) => {
        api.check();
        api.skips.push({ id, reason });
        api.queue = api.queue.filter((i) => i !== id);
        return api.handout();
      },
      prefetch: async (img) => api.prefetched.push(img.id),
    },
    annotations: { history: async () => (api.check(), api.history) },
  };
  return api;
}

/** localStorage for Node: what the app keeps there survives a "reload" (a new store). */
export function fakeLocalStorage() {
  const items = new Map();
  return { getItem: (k) => (items.has(k) ? items.get(k) : null), setItem: (k, v) => items.set(k, String(v)), removeItem: (k) => items.delete(k) };
}

/** In the calling describe block: fake timers (the sync service's), and localStorage for Node. */
export function useFakeTimersAndStorage() {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.stubGlobal('localStorage', fakeLocalStorage());
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });
}

export function brush(x) {
  return { tool: 'brush', width: 3, points: [[x, 5, 0, 0.5]] };
}

/** Return the store with the services main.js would give it (on an in-memory draft store), the annotator signed in and image 5 open. */
export async function setup(drafts = memoryDraftStore(), api = fakeApi()) {
  const device = createDevice({ userAgent: 'test' }, { devicePixelRatio: 1 });
  const persistence = createPersistence({ drafts });
  const sync = createSync({ api, drafts, device });
  const store = createAppStore({ api, drafts, persistence, sync });
  store.commit('auth/setUser', { id: 9, username: 'ann' });
  store.commit('datasets/setList', [DATASET]);
  await store.dispatch('navigation/openDataset', 1);
  await store.dispatch('navigation/openImage', { datasetId: 1, imageId: 5 });
  return { store, drafts, api, sync, persistence };
}

export async function complete(store) {
  await store.dispatch('annotation/addStroke', { stroke: brush(2) });
  await store.dispatch('annotation/chooseLabel', 'fake');
}

/** Go to the next image as the page does, letting the sync service's timers run. */
export async function goNext(store) {
  const going = store.dispatch('navigation/next');
  await vi.advanceTimersByTimeAsync(7000);
  return going;
}
