import { describe, expect, it, vi } from 'vitest';
import { DATASETS_KEY, IMAGE_CACHE, forgetOfflineCopies } from './offlineCopies.js';
import { WORKER_SOURCE } from '../../build/serviceWorker.js';

function fakeStorage(entries) {
  const map = new Map(Object.entries(entries));
  return { removeItem: (key) => map.delete(key), has: (key) => map.has(key) };
}

describe('forgetOfflineCopies', () => {
  it('deletes the images kept and the datasets list, and nothing else', async () => {
    const cacheStorage = { delete: vi.fn(async () => true) };
    const storage = fakeStorage({ [DATASETS_KEY]: '[]', 'eyetagger.user': '{}' });
    await forgetOfflineCopies({ cacheStorage, storage });
    expect(cacheStorage.delete).toHaveBeenCalledWith(IMAGE_CACHE);
    expect(cacheStorage.delete).toHaveBeenCalledTimes(1);
    expect(storage.has(DATASETS_KEY)).toBe(false);
    expect(storage.has('eyetagger.user')).toBe(true);
  });

  it('is harmless without the Cache API, and when deleting fails', async () => {
    const storage = fakeStorage({ [DATASETS_KEY]: '[]' });
    await forgetOfflineCopies({ cacheStorage: undefined, storage });
    expect(storage.has(DATASETS_KEY)).toBe(false);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    await expect(forgetOfflineCopies({ cacheStorage: { delete: async () => { throw new Error('quota'); } }, storage })).resolves.toBeUndefined();
    expect(warn).toHaveBeenCalled();
    warn.mockRestore();
  });

  it('names the cache the service worker keeps images in', () => {
    expect(WORKER_SOURCE).toContain(`const IMAGES = ${JSON.stringify(IMAGE_CACHE)};`);
  });
});
