/**
 * Keep every change of a draft in IndexedDB at once, before anything else: a reload, a closed
 * tab or a crash loses nothing. Writes never overlap; a draft changed while a write is out is
 * written right after it, in its latest state (nothing is skipped, no stale state wins).
 */

/** Return the persistence service over `drafts` (./draftStore.js); `onError` hears a failed write. */
export function createPersistence({ drafts, onError = console.error }) {
  const pending = new Map(); // key -> the latest draft not yet written
  let writing = null;

  async function writeAll() {
    while (pending.size) {
      const [key, draft] = pending.entries().next().value;
      pending.delete(key);
      try {
        await drafts.put(draft);
      } catch (error) {
        onError(error); // e.g. quota exceeded: the sync still sends from memory
      }
    }
    writing = null;
  }

  return {
    /** Write this draft (its latest state wins); resolve once it, or a later state of it, is written. */
    save(draft) {
      pending.set(draft.key, draft);
      if (!writing) writing = writeAll();
      return writing;
    },
  };
}
