/**
 * The sync service: each change of a draft is handed to it once, and it sends drafts to the
 * server in the background (./syncQueue.js: order, retries, conflicts) and reports what the
 * server said. It reads nothing back from the store: it keeps the drafts it was given.
 *
 * Created once, in main.js, and handed to the store, which listens to it (store/index.js).
 * At start and at every sign-in the annotator's unsent drafts in IndexedDB are queued again:
 * work from before a reload, a crash or a lost connection is sent as soon as the server answers.
 */

import { isDirty, isFromServer } from '../document.js';
import { SyncQueue } from './syncQueue.js';

/** A change waits this long for the next one before it is sent (a stroke, then the next): one request for a burst. */
export const DEBOUNCE_MS = 400;

/**
 * Return the sync service. api: the REST client (src/api); drafts: the draft store, for the
 * drafts left unsent; device: what the PUT body says of the device (./device.js).
 */
export function createSync({ api, drafts, device, timers, random }) {
  // Changes when the API takes them (annotators' and participants' both do); else whole documents only.
  const change = api.images.changeAnnotation ? (imageId, json) => api.images.changeAnnotation(imageId, json) : null;
  const queue = new SyncQueue({ save: (imageId, json) => api.images.saveAnnotation(imageId, json), change, client: () => device.describe(), timers, random });
  return {
    /** Hear what happens (see SyncQueue.listen): the store is the one listener. */
    listen: (listener) => queue.listen(listener),
    /** A draft is opened: if it was just made from the server's answer, its later changes go as changes. */
    opened(draft) {
      if (isFromServer(draft)) queue.known(draft);
    },
    /** Send this draft, just changed, once the annotator pauses. */
    enqueue: (draft) => queue.enqueue(draft, DEBOUNCE_MS),
    /** Send this draft now if it waits; resolve once stored, reject on timeout or failure. */
    flush: (draft, timeoutMs) => queue.flush(draft, timeoutMs),
    /** Try everything now (the browser is back online, the server answered). */
    retryNow: () => queue.retryNow(),
    /** The annotator settled a conflict (or skipped the image): send `draft` as it now stands, if dirty. */
    resolved: (draft) => queue.resolved(draft),
    /** Another tab stored `current` over this draft: it waits for the annotator's choice. */
    conflicted: (key, current) => queue.conflicted(key, current),
    /**
     * Queue the user's unsent drafts kept in IndexedDB, oldest first; `open` is the draft open in
     * the page, newer than its stored copy, which it replaces.
     */
    async queueStored(userId, open = null) {
      const stored = await drafts.list(userId);
      for (const draft of stored.sort((a, b) => a.updatedAt - b.updatedAt)) {
        const latest = open && open.key === draft.key ? open : draft;
        if (isDirty(latest)) queue.enqueue(latest);
      }
      queue.retryNow();
    },
  };
}
