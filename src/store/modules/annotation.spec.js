import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from '../../api/client.js';
import { createAppStore } from '../index.js';
import { memoryDraftStore } from '../plugins/draftStore.js';
import { missingParts } from './annotation.js';

const IMAGE = { id: 5, width: 20, height: 10, short_id: 'abcd1234', file_url: '/api/images/5/file/' };
const DATASET = { id: 1, name: 'Demo', question: 'Real or fake?', choices: ['real', 'fake'], required: { choice: true, mask: true, text: false } };

function fakeApi() {
  const api = {
    online: true,
    saved: [],
    annotation: { version: 0, strokes: [], label: null, text: '', status: 'draft', started_at: null },
    check() {
      if (!api.online) throw new ApiError(0, null);
    },
    auth: {},
    datasets: {
      next: async () => (api.check(), { image: { id: 6 }, progress: { done: 1, total: 3 } }),
      images: async () => (api.check(), { results: [IMAGE, { ...IMAGE, id: 6 }, { ...IMAGE, id: 7 }] }),
    },
    images: {
      get: async () => (api.check(), IMAGE),
      annotation: async () => (api.check(), api.annotation),
      saveAnnotation: async (id, json) => {
        api.check();
        const body = JSON.parse(json);
        api.saved.push({ id, body });
        api.annotation = { ...body, version: body.version + 1 };
        return api.annotation;
      },
    },
    annotations: { history: async () => (api.check(), []) },
  };
  return api;
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

describe('annotation store', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

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

  it('walks back through the annotator’s own history with previous', async () => {
    const { store } = await setup();
    store.commit('annotation/setHistory', [{ imageId: 3, status: 'submitted' }, { imageId: 4, status: 'submitted' }]);
    expect(await store.dispatch('annotation/previous')).toBe(4);
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
