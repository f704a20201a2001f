/**
 * Persist the open image's draft to IndexedDB after every change, before anything else: a
 * reload, a closed tab or a crash loses nothing. Writes never overlap; a change made while a
 * write is out is written right after it (the latest state wins, nothing is skipped).
 * `onPersisted(key)` runs after each write (the sync plugin queues the draft there).
 */

import { CONTENT_MUTATIONS } from '../modules/annotation.js';

const META_MUTATIONS = new Set(['annotation/setSynced', 'annotation/setConflict', 'annotation/setFull']);

export function createPersistencePlugin({ drafts, onPersisted = () => {}, onError = console.error }) {
  return (store) => {
    let writing = null;
    let again = false;

    async function write() {
      if (writing) {
        again = true;
        return writing;
      }
      writing = (async () => {
        do {
          again = false;
          const draft = store.getters['annotation/currentDraft'];
          if (!draft) break;
          try {
            await drafts.put(draft);
            onPersisted(draft.key);
          } catch (error) {
            onError(error); // e.g. quota exceeded: the sync still sends from memory
          }
        } while (again);
        writing = null;
      })();
      return writing;
    }

    store.subscribe((mutation) => {
      if (CONTENT_MUTATIONS.has(mutation.type) || META_MUTATIONS.has(mutation.type)) write();
    });

    // Active time is kept with the draft too, without a write of its own per tick.
    store.$persistNow = write;
  };
}
