import { describe, expect, it, vi } from 'vitest';
import { createStore } from 'vuex';
import { DEFAULTS } from '../../review/filters.js';
import { ensureReviewModule } from './review.js';

function deferred() {
  let resolve;
  const promise = new Promise((r) => (resolve = r));
  return { promise, resolve };
}

function fakeApi(overrides = {}) {
  return {
    research: {
      dataset: vi.fn(async (id) => ({ id, name: `dataset ${id}` })),
      datasetStats: vi.fn(async (id, filters) => ({ dataset: id, status: filters.status, annotators: [{ id: 7 }, { id: 3 }], images: [] })),
      image: vi.fn(async (id) => ({ id: Number(id), width: 4, height: 3 })),
      imageStats: vi.fn(async () => ({ answers: [{ annotation: 11 }, { annotation: 12 }], pairs: [] })),
      annotation: vi.fn(async (id) => ({ id, strokes: [] })),
      ...overrides,
    },
  };
}

function storeWith(api) {
  const store = createStore({});
  ensureReviewModule(store, api);
  return store;
}

describe('the review store module', () => {
  it('registers itself once, however many pages ask', () => {
    const api = fakeApi();
    const store = storeWith(api);
    ensureReviewModule(store, api);
    expect(store.hasModule('review')).toBe(true);
  });

  it('loads the dataset and its figures, and does not ask again for the same selection', async () => {
    const api = fakeApi();
    const store = storeWith(api);
    await store.dispatch('review/loadStats', { datasetId: '1', filters: DEFAULTS });
    await store.dispatch('review/loadStats', { datasetId: '1', filters: { ...DEFAULTS, sort: 'accuracy' } });
    expect(api.research.datasetStats).toHaveBeenCalledTimes(1);
    expect(store.state.review.dataset.name).toBe('dataset 1');
    await store.dispatch('review/loadStats', { datasetId: '1', filters: { ...DEFAULTS, status: 'all' } });
    expect(api.research.datasetStats).toHaveBeenCalledTimes(2);
    expect(api.research.dataset).toHaveBeenCalledTimes(1);
    expect(store.state.review.stats.status).toBe('all');
  });

  it('keeps the figures of the latest selection when an older answer arrives last', async () => {
    const slow = deferred();
    const api = fakeApi({
      datasetStats: vi.fn((id, filters) => (filters.status === 'draft' ? slow.promise : Promise.resolve({ status: filters.status, annotators: [], images: [] }))),
    });
    const store = storeWith(api);
    const first = store.dispatch('review/loadStats', { datasetId: 1, filters: { ...DEFAULTS, status: 'draft' } });
    await store.dispatch('review/loadStats', { datasetId: 1, filters: { ...DEFAULTS, status: 'all' } });
    slow.resolve({ status: 'draft', annotators: [], images: [] });
    await first;
    expect(store.state.review.stats.status).toBe('all');
    expect(store.state.review.loading).toBe(false);
  });

  it('says what went wrong and keeps no stale figures’ error after a retry', async () => {
    const api = fakeApi({ datasetStats: vi.fn().mockRejectedValueOnce(new Error('Only researchers and admins may do this.')) });
    api.research.datasetStats.mockResolvedValue({ annotators: [], images: [] });
    const store = storeWith(api);
    await store.dispatch('review/loadStats', { datasetId: 1, filters: DEFAULTS });
    expect(store.state.review.error).toBe('Only researchers and admins may do this.');
    await store.dispatch('review/loadStats', { datasetId: 1, filters: DEFAULTS });
    expect(store.state.review.error).toBeNull();
  });

  it('gives each annotator the index of their place in the dataset’s list (their colour)', async () => {
    const store = storeWith(fakeApi());
    await store.dispatch('review/loadStats', { datasetId: 1, filters: DEFAULTS });
    expect([...store.getters['review/annotatorIndex']]).toEqual([[7, 0], [3, 1]]);
  });

  it('loads an image with every selected annotation, strokes included', async () => {
    const api = fakeApi();
    const store = storeWith(api);
    await store.dispatch('review/loadView', { imageId: '5', filters: DEFAULTS });
    expect(api.research.annotation.mock.calls.map((c) => c[0])).toEqual([11, 12]);
    expect(store.state.review.view.image.id).toBe(5);
    expect(store.state.review.view.annotations.map((a) => a.id)).toEqual([11, 12]);
  });
});
