import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from '../../api/client.js';
import { createAppStore } from '../index.js';
import { memoryDraftStore } from '../plugins/draftStore.js';
import { OFFLINE_SKIP, firstOpen, missingParts, queueOf } from './annotation.js';

const IMAGE = { id: 5, width: 20, height: 10, short_id: 'abcd1234', file_url: '/api/images/5/file/' };
const DATASET = { id: 1, name: 'Demo', question: 'Real or fake?', choices: ['real', 'fake'], required: { choice: true, mask: true, text: false } };

const image = (id) => ({ ...IMAGE, id, file_url: `/api/images/${id}/file/` });
const PROGRESS = { done: 1, skipped: 0, in_progress: 3, total: 5, active_ms: 0, finished: false };

/** A fake API: `queue` is what the server has leased to the annotator, in order (its first is `image`). */
function fakeApi() {
  const api = {
    online: true,
    saved: [],
    skips: [],
    prefetched: [],
    full: new Set(),
    resumed: false,
    queue: [5, 6, 7, 8],
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
    annotations: { history: async () => (api.check(), []) },
  };
  return api;
}

/** localStorage for Node: what the app keeps there survives a "reload" (a new store). */
function fakeLocalStorage() {
  const items = new Map();
  return { getItem: (k) => (items.has(k) ? items.get(k) : null), setItem: (k, v) => items.set(k, String(v)), removeItem: (k) => items.delete(k) };
}

function brush(x) {
  return { tool: 'brush', width: 3, points: [[x, 5, 0, 0.5]] };
}

async function setup(drafts = memoryDraftStore(), api = fakeApi()) {
  const store = createAppStore({ api, drafts });
  store.commit('auth/setUser', { id: 9, username: 'ann' });
  store.commit('datasets/setList', [DATASET]);
  await store.dispatch('annotation/openDataset', 1);
  await store.dispatch('annotation/openImage', { datasetId: 1, imageId: 5 });
  return { store, drafts, api };
}

async function complete(store) {
  await store.dispatch('annotation/addStroke', { type: 'add', stroke: brush(2) });
  store.commit('annotation/setArea', 9);
  await store.dispatch('annotation/chooseLabel', 'fake');
}

/** Go to the next image as the page does, letting the sync plugin's timers run. */
async function goNext(store) {
  const going = store.dispatch('annotation/next');
  await vi.advanceTimersByTimeAsync(7000);
  return going;
}

describe('annotation store', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.stubGlobal('localStorage', fakeLocalStorage());
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it('undoes and redoes strokes and a clear in order', async () => {
    const { store } = await setup();
    await store.dispatch('annotation/addStroke', { type: 'add', stroke: brush(2) });
    await store.dispatch('annotation/addStroke', { type: 'add', stroke: brush(8) });
    await store.dispatch('annotation/clear');
    expect(store.state.annotation.strokes).toEqual([]);
    await store.dispatch('annotation/undo');
    expect(store.state.annotation.strokes.length).toBe(2);
    await store.dispatch('annotation/undo');
    expect(store.state.annotation.strokes).toEqual([brush(2)]);
    await store.dispatch('annotation/redo');
    await store.dispatch('annotation/redo');
    expect(store.state.annotation.strokes).toEqual([]);
    expect(store.state.annotation.redoCount).toBe(0);
  });

  it('drops the redo stack when a new stroke is drawn', async () => {
    const { store } = await setup();
    await store.dispatch('annotation/addStroke', { type: 'add', stroke: brush(2) });
    await store.dispatch('annotation/undo');
    await store.dispatch('annotation/addStroke', { type: 'add', stroke: brush(4) });
    expect(store.state.annotation.redoCount).toBe(0);
    expect(store.state.annotation.strokes).toEqual([brush(4)]);
  });

  it('persists every stroke to the draft store at once', async () => {
    const { store, drafts } = await setup();
    await store.dispatch('annotation/addStroke', { type: 'add', stroke: brush(2) });
    await vi.advanceTimersByTimeAsync(0);
    const stored = await drafts.get('9:5');
    expect(stored.strokes).toEqual([brush(2)]);
    expect(stored.localRev).toBe(1);
  });

  it('syncs the draft in the background and marks it saved', async () => {
    const { store, api } = await setup();
    await store.dispatch('annotation/addStroke', { type: 'add', stroke: brush(2) });
    await vi.advanceTimersByTimeAsync(1000);
    expect(api.saved.length).toBe(1);
    expect(api.saved[0].body.strokes).toEqual([brush(2)]);
    expect(store.state.annotation.draft.baseVersion).toBe(1);
    expect(store.state.sync.status).toBe('saved');
  });

  it('restores unsent work after a reload instead of the server copy', async () => {
    const drafts = memoryDraftStore();
    const api = fakeApi();
    api.online = false;
    const first = await setup(drafts, api).catch(() => null);
    expect(first).toBeNull(); // offline and never seen: cannot open
    api.online = true;
    const { store } = await setup(drafts, api);
    api.online = false;
    await store.dispatch('annotation/addStroke', { type: 'add', stroke: brush(2) });
    await vi.advanceTimersByTimeAsync(1000);
    expect(store.state.sync.status).toBe('offline');
    // A fresh store (a reload) while still offline shows the unsent stroke from the draft store...
    const reloaded = await setup(drafts, api);
    expect(reloaded.store.state.annotation.strokes).toEqual([brush(2)]);
    expect(api.annotation.strokes).toEqual([]);
    // ...and sends it once the server answers again.
    api.online = true;
    reloaded.store.$sync.retryNow();
    await vi.advanceTimersByTimeAsync(1000);
    expect(api.annotation.strokes).toEqual([brush(2)]);
  });

  it('refuses to go on while a required part is missing, naming it', async () => {
    const { store } = await setup();
    const where = await store.dispatch('annotation/next');
    expect(where).toBeNull();
    expect(store.state.annotation.notice).toBe('To go on, choose an answer to “Real or fake?”, draw a mask.');
  });

  it('submits and asks the server for the next image once complete', async () => {
    const { store, api } = await setup();
    await store.dispatch('annotation/addStroke', { type: 'add', stroke: brush(2) });
    store.commit('annotation/setArea', 9);
    await store.dispatch('annotation/chooseLabel', 'fake');
    const going = store.dispatch('annotation/next');
    await vi.advanceTimersByTimeAsync(1000);
    expect(await going).toBe(6);
    expect(api.annotation.status).toBe('submitted');
    expect(api.annotation.label).toBe('fake');
  });

  it('keeps the images leased ahead, fetches their files, and goes on with them offline', async () => {
    const { store, api } = await setup();
    expect(await store.dispatch('annotation/firstImage', 1)).toBe(5);
    expect(store.state.annotation.ahead.map((i) => i.id)).toEqual([5, 6, 7, 8]);
    expect(api.prefetched).toEqual([5, 6, 7, 8]);
    api.online = false;
    await complete(store);
    expect(await goNext(store)).toBe(6);
    await store.dispatch('annotation/openImage', { datasetId: 1, imageId: 6 });
    expect(store.state.annotation.draft.image.file_url).toBe('/api/images/6/file/'); // known offline from the lease
    await complete(store);
    expect(await goNext(store)).toBe(7);
  });

  it('still knows the images leased ahead after a reload while offline', async () => {
    const drafts = memoryDraftStore();
    const api = fakeApi();
    const first = await setup(drafts, api);
    await first.store.dispatch('annotation/firstImage', 1);
    api.online = false;
    const { store } = await setup(drafts, api); // a new store: a reload; opens image 5, never drawn on
    await store.dispatch('annotation/openImage', { datasetId: 1, imageId: 7 });
    expect(store.state.annotation.draft.imageId).toBe(7);
    await expect(store.dispatch('annotation/openImage', { datasetId: 1, imageId: 99 })).rejects.toThrow('not available offline');
  });

  it('shows the server’s image first on entering, unless it was done here and not sent yet', async () => {
    const { store, api } = await setup();
    api.resumed = true;
    expect(await store.dispatch('annotation/firstImage', 1)).toBe(5);
    expect(store.state.annotation.resumedImageId).toBe(5);
    store.commit('annotation/markInHistory', { imageId: 5, status: 'submitted' });
    expect(await store.dispatch('annotation/firstImage', 1)).toBe(6);
    expect(store.state.annotation.resumedImageId).toBeNull(); // not the image the server kept
  });

  it('skips with the reason and moves to the server’s next image', async () => {
    const { store, api } = await setup();
    await store.dispatch('annotation/firstImage', 1);
    expect(await store.dispatch('annotation/skip', '  too blurry ')).toBe(6);
    expect(api.skips).toEqual([{ id: 5, reason: 'too blurry' }]);
    expect(store.state.annotation.progress.skipped).toBe(1);
  });

  it('refuses to skip without a reason or while the server cannot be reached', async () => {
    const { store, api } = await setup();
    await store.dispatch('annotation/firstImage', 1);
    await expect(store.dispatch('annotation/skip', '  ')).rejects.toThrow('Say why');
    api.online = false;
    await expect(store.dispatch('annotation/skip', 'blurred')).rejects.toThrow(OFFLINE_SKIP);
    expect(api.skips).toEqual([]);
    expect(store.state.annotation.draft.imageId).toBe(5);
  });

  it('keeps a draft the server refuses as full, says so, and never sends it again unchanged', async () => {
    const { store, api, drafts } = await setup();
    await store.dispatch('annotation/firstImage', 1);
    api.full.add(5);
    await store.dispatch('annotation/addStroke', { type: 'add', stroke: brush(2) });
    await vi.advanceTimersByTimeAsync(1000);
    expect(store.state.annotation.draft.full).toEqual({ rev: 1 });
    expect(store.state.annotation.banner).toMatch(/#abcd1234 already has all the annotators it needs.*stays in this browser/);
    expect(store.state.sync).toMatchObject({ status: 'saved', waiting: 0 });
    expect((await drafts.get('9:5')).strokes).toEqual([brush(2)]); // not lost
    expect((await drafts.get('9:5')).full).toEqual({ rev: 1 });
    await store.$queueStoredDrafts(); // as at a reload or sign-in
    await vi.advanceTimersByTimeAsync(60000);
    expect(api.saved).toEqual([]);
    api.queue = [6, 7, 8]; // the server no longer holds image 5 for this annotator
    expect(await store.dispatch('annotation/leaveFull')).toBe(6);
  });

  it('goes back to draft when a submitted image loses its mask', async () => {
    const { store } = await setup();
    await store.dispatch('annotation/addStroke', { type: 'add', stroke: brush(2) });
    store.commit('annotation/setArea', 9);
    await store.dispatch('annotation/chooseLabel', 'real');
    store.commit('annotation/setStatus', 'submitted');
    store.commit('annotation/setArea', 0);
    await store.dispatch('annotation/undo');
    expect(store.state.annotation.draft.status).toBe('draft');
  });

  it('refuses a stroke past the server’s stroke limit, changing and sending nothing', async () => {
    const api = fakeApi();
    api.annotation = { ...api.annotation, version: 1, strokes: Array.from({ length: 5000 }, (_, k) => brush(k % 20)) };
    const { store } = await setup(memoryDraftStore(), api);
    expect(store.getters['annotation/size']).toEqual({ strokes: 5000, points: 5000 });
    expect(store.getters['annotation/limit'].level).toBe('full');
    expect(await store.dispatch('annotation/addStroke', { type: 'add', stroke: brush(2) })).toBe(false);
    await vi.advanceTimersByTimeAsync(1000);
    expect(store.state.annotation.strokes).toHaveLength(5000);
    expect(store.state.annotation.undoCount).toBe(0);
    expect(api.saved).toEqual([]);
    // Clearing (or undoing) frees room: a new stroke is taken again.
    store.commit('annotation/clear', { type: 'clear' });
    expect(store.getters['annotation/limit']).toBeNull();
    expect(await store.dispatch('annotation/addStroke', { type: 'add', stroke: brush(2) })).toBe(true);
  });

  it('refuses a stroke past the server’s point limit', async () => {
    const api = fakeApi();
    const long = { tool: 'brush', width: 3, points: Array.from({ length: 20000 }, (_, k) => [k / 1000, 5, k, 0.5]) };
    api.annotation = { ...api.annotation, version: 1, strokes: Array(12).fill(long) };
    const { store } = await setup(memoryDraftStore(), api);
    expect(store.getters['annotation/limit'].message).toMatch(/^This image holds 240,000 of the 250,000 points/);
    expect(await store.dispatch('annotation/addStroke', { type: 'add', stroke: { ...long, points: long.points.slice(0, 10001) } })).toBe(false);
    expect(await store.dispatch('annotation/addStroke', { type: 'add', stroke: { ...long, points: long.points.slice(0, 10000) } })).toBe(true);
    expect(store.getters['annotation/size'].points).toBe(250000);
    expect(store.getters['annotation/limit'].message).toMatch(/250,000-point limit/);
  });

  it('walks back through the annotator’s own history with previous', async () => {
    const { store } = await setup();
    store.commit('annotation/setHistory', [{ imageId: 3, status: 'submitted' }, { imageId: 4, status: 'submitted' }]);
    expect(await store.dispatch('annotation/previous')).toBe(4);
  });
});

describe('the queue of leased images', () => {
  it('puts the server’s image first, then the images ahead, without repeats', () => {
    expect(queueOf({ image: { id: 3 }, ahead: [{ id: 4 }, { id: 3 }] }).map((i) => i.id)).toEqual([3, 4]);
    expect(queueOf({ image: null, ahead: [] })).toEqual([]);
  });

  it('goes on with the first image neither open nor in the annotator’s history', () => {
    const queue = [{ id: 3 }, { id: 4 }, { id: 5 }];
    expect(firstOpen(queue, [{ imageId: 3, status: 'submitted' }], 4)).toBe(5);
    expect(firstOpen(queue, [], null)).toBe(3);
    expect(firstOpen(queue, [{ imageId: 5, status: 'skipped' }], 3)).toBe(4);
    expect(firstOpen([{ id: 3 }], [], 3)).toBeNull();
  });
});

describe('missingParts', () => {
  it('lists nothing when the dataset requires nothing', () => {
    expect(missingParts({ required: {} }, { label: null, text: '', area: 0 })).toEqual([]);
  });

  it('asks for a justification when text is required and blank', () => {
    expect(missingParts({ required: { text: true } }, { label: null, text: '  ', area: 0 })).toEqual(['type a justification']);
  });
});
