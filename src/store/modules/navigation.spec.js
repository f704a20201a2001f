import { describe, expect, it, vi } from 'vitest';
import { DATASET, PROGRESS, brush, complete, fakeApi, goNext, setup, useFakeTimersAndStorage } from '../testing.js';
import { createAppStore } from '../index.js';
import { createDevice } from '../../services/device.js';
import { createPersistence } from '../../services/persistence.js';
import { createSync } from '../../services/sync.js';
import { memoryDraftStore } from '../../services/draftStore.js';
import { OFFLINE_SKIP, firstOpen, queueOf } from './navigation.js';

describe('navigation', () => {
  useFakeTimersAndStorage();

  it('refuses to go on while a required part is missing, naming it', async () => {
    const { store } = await setup();
    const where = await store.dispatch('navigation/next');
    expect(where).toBeNull();
    expect(store.state.annotation.notice).toBe('To go on, choose an answer to “Real or fake?”, draw a mask.');
  });

  it('submits and asks the server for the next image once complete', async () => {
    const { store, api } = await setup();
    await store.dispatch('annotation/addStroke', { stroke: brush(2) });
    await store.dispatch('annotation/chooseLabel', 'fake');
    const going = store.dispatch('navigation/next');
    await vi.advanceTimersByTimeAsync(1000);
    expect(await going).toBe(6);
    expect(api.annotation.status).toBe('submitted');
    expect(api.annotation.label).toBe('fake');
  });

  it('keeps the images leased ahead, fetches their files, and goes on with them offline', async () => {
    const { store, api } = await setup();
    expect(await store.dispatch('navigation/firstImage', 1)).toBe(5);
    expect(store.state.navigation.ahead.map((i) => i.id)).toEqual([5, 6, 7, 8]);
    expect(api.prefetched).toEqual([5, 6, 7, 8]);
    api.online = false;
    await complete(store);
    expect(await goNext(store)).toBe(6);
    await store.dispatch('navigation/openImage', { datasetId: 1, imageId: 6 });
    expect(store.state.annotation.draft.image.file_url).toBe('/api/images/6/file/'); // known offline from the lease
    await complete(store);
    expect(await goNext(store)).toBe(7);
  });

  it('still knows the images leased ahead after a reload while offline', async () => {
    const drafts = memoryDraftStore();
    const api = fakeApi();
    const first = await setup(drafts, api);
    await first.store.dispatch('navigation/firstImage', 1);
    api.online = false;
    const { store } = await setup(drafts, api); // a new store: a reload; opens image 5, never drawn on
    await store.dispatch('navigation/openImage', { datasetId: 1, imageId: 7 });
    expect(store.state.annotation.draft.imageId).toBe(7);
    await expect(store.dispatch('navigation/openImage', { datasetId: 1, imageId: 99 })).rejects.toThrow('not available offline');
  });

  it('shows the server’s image first on entering, unless it was done here and not sent yet', async () => {
    const { store, api } = await setup();
    api.resumed = true;
    expect(await store.dispatch('navigation/firstImage', 1)).toBe(5);
    expect(store.state.navigation.resumedImageId).toBe(5);
    store.commit('navigation/markInHistory', { imageId: 5, status: 'submitted' });
    expect(await store.dispatch('navigation/firstImage', 1)).toBe(6);
    expect(store.state.navigation.resumedImageId).toBeNull(); // not the image the server kept
  });

  it('skips with the reason and moves to the server’s next image', async () => {
    const { store, api } = await setup();
    await store.dispatch('navigation/firstImage', 1);
    expect(await store.dispatch('navigation/skip', '  too blurry ')).toBe(6);
    expect(api.skips).toEqual([{ id: 5, reason: 'too blurry' }]);
    expect(store.state.navigation.progress.skipped).toBe(1);
  });

  it('refuses to skip without a reason or while the server cannot be reached', async () => {
    const { store, api } = await setup();
    await store.dispatch('navigation/firstImage', 1);
    await expect(store.dispatch('navigation/skip', '  ')).rejects.toThrow('Say why');
    api.online = false;
    await expect(store.dispatch('navigation/skip', 'blurred')).rejects.toThrow(OFFLINE_SKIP);
    expect(api.skips).toEqual([]);
    expect(store.state.annotation.draft.imageId).toBe(5);
  });

  it('keeps a draft the server refuses as full, says so, and never sends it again unchanged', async () => {
    const { store, api, drafts, sync } = await setup();
    await store.dispatch('navigation/firstImage', 1);
    api.full.add(5);
    await store.dispatch('annotation/addStroke', { stroke: brush(2) });
    await vi.advanceTimersByTimeAsync(1000);
    expect(store.state.annotation.draft.full).toEqual({ rev: 1 });
    expect(store.state.navigation.banner).toMatch(/#abcd1234 already has all the annotators it needs.*stays in this browser/);
    expect(store.state.sync).toMatchObject({ status: 'saved', waiting: 0 });
    expect((await drafts.get('9:5')).strokes).toEqual([brush(2)]); // not lost
    expect((await drafts.get('9:5')).full).toEqual({ rev: 1 });
    await sync.queueStored(9); // as at a reload or sign-in
    await vi.advanceTimersByTimeAsync(60000);
    expect(api.saved).toEqual([]);
    api.queue = [6, 7, 8]; // the server no longer holds image 5 for this annotator
    expect(await store.dispatch('navigation/leaveFull')).toBe(6);
  });

  it('counts the open image the same, place and total, after a reload while offline', async () => {
    const drafts = memoryDraftStore();
    const api = fakeApi();
    api.history = [
      { image: 3, status: 'submitted', started_at: '2026-01-01T10:00:00Z' },
      { image: 4, status: 'skipped', started_at: '2026-01-01T10:01:00Z' },
    ];
    const online = await setup(drafts, api);
    await online.store.dispatch('navigation/firstImage', 1);
    const counted = (store) => [store.getters['navigation/index'], store.getters['navigation/total']];
    expect(counted(online.store)).toEqual([2, 5]);
    api.online = false;
    const { store } = await setup(drafts, api); // a reload with the server away
    expect(counted(store)).toEqual([2, 5]);
    expect(await store.dispatch('navigation/previous')).toBe(4);
  });

  it('counts an image opened by its address against the dataset’s total, not its own place', async () => {
    const api = fakeApi();
    api.history = [1, 2, 3, 4].map((id) => ({ image: id, status: 'submitted', started_at: `2026-01-01T10:0${id}:00Z` }));
    const drafts = memoryDraftStore();
    const device = createDevice({ userAgent: 'test' }, { devicePixelRatio: 1 });
    const sync = createSync({ api, drafts, device });
    const store = createAppStore({ api, drafts, persistence: createPersistence({ drafts }), sync });
    store.commit('auth/setUser', { id: 9, username: 'ann' });
    store.commit('datasets/setList', [{ ...DATASET, progress: { ...PROGRESS, done: 4, total: 12 } }]);
    await store.dispatch('navigation/openDataset', 1);
    await store.dispatch('navigation/openImage', { datasetId: 1, imageId: 5 });
    expect(store.getters['navigation/index']).toBe(4);
    expect(store.getters['navigation/total']).toBe(12);
  });

  it('walks back through the annotator’s own history with previous', async () => {
    const { store } = await setup();
    store.commit('navigation/setHistory', [{ imageId: 3, status: 'submitted' }, { imageId: 4, status: 'submitted' }]);
    expect(await store.dispatch('navigation/previous')).toBe(4);
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
