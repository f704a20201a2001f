/**
 * Drafts in IndexedDB: every local change of every image, kept until the server has it (and a
 * while after, so an image opened offline still shows its last state). Strokes are stored
 * packed (one Float64Array each), which IndexedDB clones far faster than nested arrays.
 */

import { packStroke, unpackStroke } from '../document.js';

const DB_NAME = 'eyetagger';
const STORE = 'drafts';

/** Open (creating it on first use) the database of drafts. */
function openDatabase(indexedDBImpl, name) {
  return new Promise((resolve, reject) => {
    const req = indexedDBImpl.open(name, 1);
    req.onupgradeneeded = () => {
      const store = req.result.createObjectStore(STORE, { keyPath: 'key' });
      store.createIndex('userId', 'userId');
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
    req.onblocked = () => reject(new Error('IndexedDB is blocked by another tab being upgraded.'));
  });
}

/** Run `body(objectStore)` in one transaction; resolve with its request's result once committed. */
function inTransaction(database, mode, body) {
  return new Promise((resolve, reject) => {
    const tx = database.transaction(STORE, mode);
    let result;
    const req = body(tx.objectStore(STORE));
    if (req) req.onsuccess = () => (result = req.result);
    // Resolve on commit, not on the request's success: only then is the draft on disk.
    tx.oncomplete = () => resolve(result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error('IndexedDB transaction aborted'));
  });
}

export function openDraftStore(indexedDBImpl = globalThis.indexedDB, name = DB_NAME) {
  let opening = null;
  const run = async (mode, body) => {
    if (!opening) opening = openDatabase(indexedDBImpl, name);
    return inTransaction(await opening, mode, body);
  };

  const pack = (draft) => ({ ...draft, strokes: draft.strokes.map(packStroke) });
  const unpack = (record) => (record ? { ...record, strokes: record.strokes.map(unpackStroke) } : null);

  return {
    async get(key) {
      return unpack(await run('readonly', (s) => s.get(key)));
    },
    put(draft) {
      return run('readwrite', (s) => s.put(pack(draft)));
    },
    /** Change some fields of a stored draft in one transaction (no lost update). */
    patch(key, fields) {
      return run('readwrite', (s) => {
        const req = s.get(key);
        req.onsuccess = () => {
          if (req.result) s.put({ ...req.result, ...fields });
        };
        return null;
      });
    },
    delete(key) {
      return run('readwrite', (s) => s.delete(key));
    },
    /** Return the user's drafts without their strokes' points unpacked (cheap listing). */
    async list(userId) {
      const records = await run('readonly', (s) => s.index('userId').getAll(userId));
      return (records || []).map(unpack);
    },
  };
}

/** The same interface in memory: for tests and for browsers without IndexedDB. */
export function memoryDraftStore() {
  const records = new Map();
  const copy = (d) => (d ? { ...d, strokes: [...d.strokes] } : null);
  return {
    async get(key) {
      return copy(records.get(key));
    },
    async put(draft) {
      records.set(draft.key, copy(draft));
    },
    async patch(key, fields) {
      if (records.has(key)) records.set(key, { ...records.get(key), ...fields });
    },
    async delete(key) {
      records.delete(key);
    },
    async list(userId) {
      return [...records.values()].filter((d) => d.userId === userId).map(copy);
    },
  };
}
