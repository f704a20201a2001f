/**
 * Send drafts to the server in the background, one request at a time, until each is stored.
 *
 * - Each change of a draft is handed in once (enqueue); the queue keeps the latest draft of each
 *   image and owns what it sends and the version it builds on: after an answer it moves its
 *   own copy to the version stored, so nothing is read back from the store.
 * - A save sends what changed since the version the server last acknowledged (PATCH: strokes
 *   removed from the end, strokes appended, the answer and text if changed), computed from the
 *   queue's copy of what the server holds (`acked`), known from the server's own answers only.
 *   Offline, the changes of an image coalesce into one. With no such copy (a draft kept from
 *   before a reload, after a conflict) it PUTs the document, and after a change refused as a
 *   change (400) the same content by PUT, which is harmless to repeat (the server answers 200
 *   for content it already has). A change carries an op id, the same for a retry of the same
 *   state, so a retry is not applied twice.
 * - No request paints more than the server's ink budget (LIMITS.maxInk): a larger change goes in
 *   parts (document.js, partToSend), each a request and a stored version of its own, in order;
 *   with no copy of what the server holds the first part is a PUT of the strokes that fit.
 * - Failures that may pass (no answer, 5xx, 429) are retried with exponential back-off and
 *   jitter, at once when the browser comes back online or any request is answered again.
 * - A 409 whose stored content is what this queue sent earlier is our own save whose answer
 *   was lost: adopt its version and go on. Any other 409 is a real conflict (another tab or
 *   device): the draft waits for the annotator's choice, never overwritten silently.
 * - 401/403 pause everything until the annotator signs in again; a 400 (the server refuses the
 *   content) is shown and retried only after the next change. Nothing is ever dropped.
 * - A 409 `image_full` (the image already has every annotator it needs) is final for that
 *   content: the draft is marked full (kept, not sent again unless it changes) and reported once.
 */

import { acknowledged, changeJson, contentKey, documentJson, isDirty, partToSend, serverCopy } from '../document.js';
import { LIMITS } from '../limits.js';

export const BACKOFF = { baseMs: 1000, maxMs: 30000 };

/** Return the delay before retry number `attempt` (1, 2, ...): doubling, capped, with jitter. */
export function backoffDelay(attempt, random = Math.random) {
  const ceiling = Math.min(BACKOFF.maxMs, BACKOFF.baseMs * 2 ** (attempt - 1));
  return Math.round(ceiling * (0.5 + 0.5 * random()));
}

/** A listener that hears nothing: what the queue tells until one listens. */
const DEAF = { status() {}, async saved() {}, async conflict() {}, async full() {}, published() {} };

export class SyncQueue {
  /**
   * save(imageId, json) PUTs the whole document, change(imageId, json) PATCHes a change (null:
   * always PUT); both answer the stored annotation. client() -> what a save says of the device.
   */
  constructor({ save, change = null, client = () => undefined, timers = globalThis, random = Math.random }) {
    Object.assign(this, { save, change, client, timers, random });
    this.acked = new Map(); // key -> serverCopy of what the server holds, from its answers
    this.session = Math.floor(random() * 2 ** 40).toString(36); // op ids are unique to this queue
    this.listener = DEAF;
    this.latest = new Map(); // key -> the draft as it stands after its last change: what is sent
    this.order = []; // keys waiting, oldest change first
    this.dueAt = new Map(); // key -> earliest time to try
    this.attempts = new Map(); // key -> failed attempts in a row
    this.unacked = new Map(); // key -> content keys sent without an answer
    this.refusedAsChange = new Set(); // keys whose last change got a 400: their next save is a PUT
    this.problems = new Map(); // key -> {kind: 'offline'|'error'|'conflict'|'auth', message}
    this.waiters = [];
    this.running = false;
    this.paused = false;
    this.timer = null;
    this.inFlight = null;
  }

  /**
   * Tell `listener` what happens, awaiting each answer: status({status, waiting, message});
   * saved(key, {version, rev}) once the server stores the draft as `version` up to local
   * revision `rev` (null: only the version is new); conflict(key, current) when another tab or
   * device changed it; full(draft, rev) when its image already has every annotator it needs;
   * published(key, {version, json}) once the server stored this content as `version` (`json`:
   * the document as sent), for other tabs to hear (services/tabs.js).
   */
  listen(listener) {
    this.listener = { ...DEAF, ...listener };
    this._report();
  }

  /** Queue a changed draft to be sent after `delayMs` (debounce), keeping its image's place if already queued. */
  enqueue(draft, delayMs = 0) {
    const key = draft.key;
    this.latest.set(key, draft);
    if (!this.order.includes(key)) this.order.push(key);
    const problem = this.problems.get(key);
    if (problem && problem.kind === 'error') this.problems.delete(key); // a change may fix it: try again
    if (!this.attempts.get(key)) this.dueAt.set(key, Date.now() + delayMs);
    this._report();
    this._kick();
  }

  /** Try everything now (the browser is back online, the annotator signed in again). */
  retryNow() {
    this.paused = false;
    for (const key of this.order) this.dueAt.set(key, Date.now());
    for (const [key, problem] of this.problems) if (problem.kind === 'auth' || problem.kind === 'offline') this.problems.delete(key);
    this._kick();
  }

  /** Forget a conflict or refusal once the annotator chose (or skipped the image): send `draft` if it is still dirty. */
  resolved(draft) {
    this.problems.delete(draft.key);
    this.attempts.delete(draft.key);
    this.unacked.delete(draft.key);
    this.refusedAsChange.delete(draft.key);
    this.enqueue(draft);
  }

  /** The draft was just made from the server's answer: later changes of it can be sent as changes. */
  known(draft) {
    this.acked.set(draft.key, serverCopy(draft, draft.baseVersion));
  }

  /**
   * Another tab stored `current` over what this queue last had stored for `key`: the draft here
   * waits for the annotator's choice, and the indicator no longer says Saved.
   */
  conflicted(key, current) {
    this.order = this.order.filter((k) => k !== key);
    this.acked.delete(key); // the server no longer holds what this tab last had acknowledged: resolve with a PUT
    this.problems.set(key, { kind: 'conflict', message: 'This image was changed in another tab.' });
    if (this.latest.has(key)) this.latest.set(key, { ...this.latest.get(key), conflict: current });
    this._report();
  }

  /** Return how many drafts are not yet on the server. */
  get waiting() {
    return new Set([...this.order, ...this.problems.keys()]).size;
  }

  /**
   * Send `draft` now if it waits (as it stands now: its active time may have grown since its last
   * change); resolve once it is stored or nothing waits, reject after timeoutMs or once sending failed.
   */
  flush(draft, timeoutMs = 8000) {
    const key = draft.key;
    if (this.latest.has(key)) this.latest.set(key, draft);
    if (this.dueAt.has(key)) this.dueAt.set(key, Date.now());
    this._kick();
    return new Promise((resolve, reject) => {
      const waiter = { key, resolve, reject };
      waiter.timer = this.timers.setTimeout(() => this._settle(waiter, new Error('The server did not answer in time.')), timeoutMs);
      this.waiters.push(waiter);
      this._checkWaiters();
    });
  }

  _settle(waiter, error) {
    this.timers.clearTimeout(waiter.timer);
    this.waiters = this.waiters.filter((w) => w !== waiter);
    if (error) waiter.reject(error);
    else waiter.resolve();
  }

  _checkWaiters() {
    for (const waiter of [...this.waiters]) {
      const problem = this.problems.get(waiter.key);
      // Offline too: whoever waits (going to the next image) goes on; the draft stays queued.
      if (problem) this._settle(waiter, Object.assign(new Error(problem.message), { problem }));
      else if (!this.order.includes(waiter.key) && !problem) this._settle(waiter, null);
    }
  }

  _report() {
    let status = 'saved';
    const kinds = new Set([...this.problems.values()].map((p) => p.kind));
    if (kinds.has('conflict')) status = 'conflict';
    else if (kinds.has('auth')) status = 'signed-out';
    else if (kinds.has('error')) status = 'error';
    else if (kinds.has('offline')) status = 'offline';
    else if (this.order.length) status = 'saving';
    const first = [...this.problems.values()].find((p) => p.kind !== 'offline');
    this.listener.status({ status, waiting: this.waiting, message: first ? first.message : null });
  }

  _kick() {
    if (this.running || this.paused) return;
    this.running = true;
    Promise.resolve()
      .then(() => this._drain())
      .finally(() => {
        this.running = false;
        this._report();
        this._checkWaiters();
      });
  }

  _schedule() {
    if (this.timer) this.timers.clearTimeout(this.timer);
    this.timer = null;
    if (!this.order.length || this.paused) return;
    const due = this.order.filter((k) => this._sendable(k)).map((k) => this.dueAt.get(k) ?? 0);
    if (!due.length) return;
    const next = Math.min(...due);
    this.timer = this.timers.setTimeout(() => {
      this.timer = null;
      this._kick();
    }, Math.max(0, next - Date.now()));
  }

  async _drain() {
    for (;;) {
      if (this.paused) return;
      const now = Date.now();
      const key = this.order.find((k) => (this.dueAt.get(k) ?? 0) <= now && this._sendable(k));
      if (key === undefined) {
        this._schedule();
        return;
      }
      await this._send(key);
      this._report();
      this._checkWaiters();
    }
  }

  /** A key blocked by a conflict, a refusal or signing out waits for the annotator, not for a timer. */
  _sendable(key) {
    const problem = this.problems.get(key);
    return !problem || problem.kind === 'offline';
  }

  _done(key) {
    this.latest.delete(key);
    this.order = this.order.filter((k) => k !== key);
    this.dueAt.delete(key);
    this.attempts.delete(key);
    this.unacked.delete(key);
    this.problems.delete(key);
  }

  async _send(key) {
    const draft = this.latest.get(key);
    if (!draft || !isDirty(draft) || (draft.full && draft.full.rev >= draft.localRev)) {
      this._done(key); // nothing to send, or refused as full and unchanged since
      return;
    }
    if (draft.conflict) {
      this.order = this.order.filter((k) => k !== key);
      this.problems.set(key, { kind: 'conflict', message: 'This image was changed in another tab or device.' });
      return;
    }
    // What one request may paint is bounded: a larger change goes in parts, each a version of its own.
    const part = partToSend(this._base(draft), draft, LIMITS.maxInk);
    const rev = part === draft ? draft.localRev : null; // a part leaves the draft dirty: the next one follows
    const sent = contentKey(part);
    const sentList = this.unacked.get(key) || [];
    sentList.push(sent);
    this.unacked.set(key, sentList.slice(-8));
    const change = this._changeOf(part, draft.localRev);
    try {
      // The whole document as the server now holds it, for the other tabs (sent whole or as a change).
      const json = documentJson(part, this.client());
      const stored = change ? await this.change(draft.imageId, change) : await this.save(draft.imageId, json);
      this.acked.set(key, serverCopy(part, stored.version));
      this.listener.published(key, { version: stored.version, json });
      await this._stored(key, stored.version, rev);
    } catch (error) {
      if (error.isConflict && error.body && error.body.current) {
        const current = error.body.current;
        const theirs = contentKey(current);
        this.acked.set(key, serverCopy(current, current.version)); // what the server holds, whoever wrote it
        if (theirs === sent) {
          await this._stored(key, current.version, rev); // same content stored: nothing to send
        } else if ((this.unacked.get(key) || []).includes(theirs)) {
          // Our own earlier save landed but its answer was lost: build on it and send again.
          await this._acknowledge(key, current.version, null);
          this.dueAt.set(key, Date.now());
        } else {
          this.acked.delete(key); // settled by the annotator, then sent whole
          this.order = this.order.filter((k) => k !== key);
          this.problems.set(key, { kind: 'conflict', message: error.message });
          this.latest.set(key, { ...this.latest.get(key), conflict: current });
          await this.listener.conflict(key, current);
        }
      } else if (error.isConflict && error.code === 'image_full') {
        // Final for the draft as it stands, whichever part of it was sent.
        const full = { ...this.latest.get(key), full: { rev: draft.localRev } };
        this._done(key);
        await this.listener.full(full, draft.localRev);
      } else if (change && error.status === 400) {
        // Refused as a change: PUT the same content, whose answer says what is wrong, if anything. Each
        // PUT stored is a part more on the server, and a PUT refused is shown: this never loops.
        this.refusedAsChange.add(key);
        this.dueAt.set(key, Date.now());
      } else if (error.isRetryable) {
        const attempt = (this.attempts.get(key) || 0) + 1;
        this.attempts.set(key, attempt);
        this.dueAt.set(key, Date.now() + backoffDelay(attempt, this.random));
        this.problems.set(key, { kind: 'offline', message: error.message });
      } else if (error.isAuth) {
        this.paused = true;
        this.problems.set(key, { kind: 'auth', message: 'Sign in again to save your work; it is kept in this browser.' });
      } else {
        this.order = this.order.filter((k) => k !== key);
        this.problems.set(key, { kind: 'error', message: error.message || 'The server refused this annotation.' });
      }
    }
  }

  /** Return the queue's copy of what the server holds of the draft's image at the draft's base version, or null. */
  _base(draft) {
    const base = this.acked.get(draft.key);
    return base && base.version === draft.baseVersion ? base : null;
  }

  /** Return the PATCH body taking what the server holds to the draft (or a part of it), or null to PUT it. */
  _changeOf(draft, rev) {
    const base = this._base(draft);
    if (!this.change || !base || this.refusedAsChange.has(draft.key)) return null;
    // The same op for the same state: a retry of a change whose answer was lost is not applied twice.
    const op = `${this.session}-${draft.imageId}-${base.version}-${rev}`;
    return changeJson(base, draft, { client: this.client(), op, maxInk: LIMITS.maxInk });
  }

  /** Move the queue's copy of the draft to the version the server stored, then tell the listener. */
  async _acknowledge(key, version, rev) {
    const draft = this.latest.get(key);
    if (draft) this.latest.set(key, { ...draft, ...acknowledged(draft, { version, rev }) });
    await this.listener.saved(key, { version, rev });
  }

  async _stored(key, version, rev) {
    this.refusedAsChange.delete(key);
    await this._acknowledge(key, version, rev);
    this.attempts.delete(key);
    this.unacked.delete(key);
    this.problems.delete(key);
    // The server answers again: send what waits for it now, not when each back-off runs out.
    for (const [other, problem] of this.problems) if (problem.kind === 'offline') this.dueAt.set(other, Date.now());
    if (!isDirty(this.latest.get(key))) this._done(key);
    else this.dueAt.set(key, Date.now()); // changed while the request was out: send the rest
  }
}
