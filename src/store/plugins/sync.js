/**
 * Sync as a store plugin: every persisted draft is queued (debounced while drawing), sent by
 * the SyncQueue, and its result committed back. On start and at every sign-in, the
 * annotator's unsent drafts in IndexedDB are queued again: work from before a reload, a
 * crash or a lost connection is sent as soon as the server answers.
 */

import { isDirty } from '../document.js';
import { CONTENT_MUTATIONS } from '../modules/annotation.js';
import { SyncQueue } from './syncQueue.js';

const DEBOUNCE_MS = 400;

export function createSyncPlugin({ api, drafts }) {
  return (store) => {
    const pointerTypes = new Set();
    const isCurrent = (key) => store.state.annotation.draft && store.state.annotation.draft.key === key;

    async function storedUpdate(key, change) {
      const draft = await drafts.get(key);
      if (draft) await drafts.put(change(draft));
    }

    const queue = new SyncQueue({
      save: (imageId, json) => api.images.saveAnnotation(imageId, json),
      getDraft: async (key) => (isCurrent(key) ? store.getters['annotation/currentDraft'] : drafts.get(key)),
      markSynced: async (key, { version, rev }) => {
        if (isCurrent(key)) store.commit('annotation/setSynced', { version, rev });
        else {
          await storedUpdate(key, (d) => ({
            ...d,
            baseVersion: version,
            syncedRev: rev === null ? d.syncedRev : Math.max(d.syncedRev, rev),
          }));
        }
      },
      markConflict: async (key, current) => {
        if (isCurrent(key)) store.commit('annotation/setConflict', current);
        else await storedUpdate(key, (d) => ({ ...d, conflict: current }));
      },
      markFull: async (key, { rev }) => {
        const current = isCurrent(key);
        const draft = current ? store.getters['annotation/currentDraft'] : await drafts.get(key);
        if (current) store.commit('annotation/setFull', { rev });
        else await storedUpdate(key, (d) => ({ ...d, full: { rev } }));
        if (draft) await store.dispatch('navigation/noteFull', { draft, current });
      },
      report: (status) => store.commit('sync/setStatus', status),
      client: () =>
        typeof navigator === 'undefined'
          ? undefined
          : {
              user_agent: (navigator.userAgent || '').slice(0, 500),
              device_pixel_ratio: globalThis.devicePixelRatio || 1,
              pointer_types: [...pointerTypes],
            },
    });
    store.$sync = queue;
    store.$notePointer = (type) => {
      if (['mouse', 'pen', 'touch'].includes(type)) pointerTypes.add(type);
    };

    async function queueStoredDrafts() {
      const user = store.state.auth.user;
      if (!user) return;
      const stored = await drafts.list(user.id);
      for (const draft of stored.sort((a, b) => a.updatedAt - b.updatedAt)) {
        if (isDirty(draft)) queue.enqueue(draft.key);
      }
      queue.retryNow();
    }

    store.$queueStoredDrafts = queueStoredDrafts;
    store.subscribe((mutation, state) => {
      if (mutation.type === 'auth/setUser' && mutation.payload) queueStoredDrafts();
      // Show "Saving…" from the change itself, not only once IndexedDB has it (a few ms later).
      else if (CONTENT_MUTATIONS.has(mutation.type) && state.annotation.draft) queue.enqueue(state.annotation.draft.key, DEBOUNCE_MS);
    });
    if (typeof window !== 'undefined') window.addEventListener('online', () => queue.retryNow());
    store.$afterPersist = (key) => {
      const draft = store.getters['annotation/currentDraft'];
      if (draft && draft.key === key && !isDirty(draft)) return;
      queue.enqueue(key, DEBOUNCE_MS);
    };
  };
}
