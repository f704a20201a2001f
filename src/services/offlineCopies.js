/**
 * What the app keeps in this browser for working offline that belongs to whoever is signed in,
 * and is forgotten when they sign out, so the next person at a shared computer (a lab's, or a
 * study participant's) cannot see it offline: the images the service worker kept
 * (build/serviceWorker.js writes them into IMAGE_CACHE) and the datasets list.
 *
 * Unsent drafts are not among them: work is never dropped; they stay until sent.
 */

export const IMAGE_CACHE = 'eyetagger-images';
export const DATASETS_KEY = 'eyetagger.datasets';

/** Forget the signed-out user's offline copies; resolve when done (a browser without them is fine). */
export async function forgetOfflineCopies({ cacheStorage = globalThis.caches, storage = globalThis.localStorage } = {}) {
  storage?.removeItem(DATASETS_KEY);
  if (!cacheStorage) return; // no Cache API (an insecure origin): nothing was kept
  try {
    await cacheStorage.delete(IMAGE_CACHE);
  } catch (error) {
    console.warn('The images kept for offline use could not be forgotten:', error);
  }
}
