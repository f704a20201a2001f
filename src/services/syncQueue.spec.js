import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from '../api/client.js';
import { contentKey, strokeInk, strokeJson } from '../document.js';
import { LIMITS } from '../limits.js';
import { SyncQueue, backoffDelay } from './syncQueue.js';

function draft(imageId, fields = {}) {
  return {
    key: `1:${imageId}`, userId: 1, imageId, datasetId: 1, image: { id: imageId },
    strokes: [{ tool: 'brush', width: 4, points: [[1, 2, 0, 0.5]] }],
    label: null, text: '', status: 'draft', baseVersion: 0, localRev: 1, syncedRev: 0,
    startedAt: '2025-01-01T00:00:00Z', activeMs: 0, conflict: null, ...fields,
  };
}

/** Return the 400 the server answers when a save would paint more than LIMITS.maxInk (on an image 80 rows high), or null. */
function inkRefusal(strokes) {
  const ink = strokes.reduce((sum, s) => sum + strokeInk(s, 80), 0);
  return ink > LIMITS.maxInk ? new ApiError(400, { code: 'too_much_ink', detail: `this save paints ${ink} units of ink` }) : null;
}

/** Return the strokes a PUT of `strokes` paints over `current`: those after the stored ones when it appends to them. */
function paintedBy(strokes, current) {
  const held = current ? current.strokes.map(strokeJson) : [];
  const appends = held.length <= strokes.length && held.every((text, k) => text === strokeJson(strokes[k]));
  return appends ? strokes.slice(held.length) : strokes;
}

/** A fake server with the real PUT semantics: versions, idempotent repeats, 409 with current, the ink budget. */
function fakeServer() {
  const stored = new Map();
  const server = {
    stored,
    down: false,
    loseAnswers: 0,
    puts: [],
    changes: [],
    ops: new Map(), // imageId -> the op of the change that made the stored version
    /** PATCH with the server's semantics (backend annotation_change): a change applies to its version only. */
    async change(imageId, json) {
      const body = JSON.parse(json);
      server.changes.push({ imageId, body });
      if (server.down) throw new ApiError(0, null);
      if (server.refuseChanges) throw new ApiError(400, { code: 'too_many_points', detail: 'too many points' });
      if (inkRefusal(body.append)) throw inkRefusal(body.append);
      const current = stored.get(imageId);
      let result;
      if (current && body.op && server.ops.get(imageId) === body.op) result = current;
      else if ((current ? current.version : 0) !== body.version) {
        throw new ApiError(409, { code: 'version_conflict', detail: 'changed elsewhere', current });
      } else {
        const base = current || { strokes: [], label: null, text: '', status: 'draft', version: 0 };
        const strokes = base.strokes.slice(0, base.strokes.length - body.remove).concat(body.append);
        const fields = Object.fromEntries(['label', 'text', 'status'].filter((f) => f in body).map((f) => [f, body[f]]));
        result = { ...base, ...fields, strokes, version: body.version + 1 };
        stored.set(imageId, result);
        server.ops.set(imageId, body.op);
      }
      if (server.loseAnswers > 0) {
        server.loseAnswers--;
        throw new ApiError(0, null);
      }
      return { ...result, strokes: undefined }; // the answer leaves the strokes out
    },
    async save(imageId, json) {
      const body = JSON.parse(json);
      server.puts.push({ imageId, body });
      if (server.down) throw new ApiError(0, null);
      const current = stored.get(imageId);
      let result;
      if (current && contentKey(current) === contentKey(body)) result = current;
      else if ((current ? current.version : 0) !== body.version) {
        throw new ApiError(409, { code: 'version_conflict', detail: 'changed elsewhere', current });
      } else if (inkRefusal(paintedBy(body.strokes, current))) {
        throw inkRefusal(paintedBy(body.strokes, current));
      } else {
        result = { ...body, version: body.version + 1 };
        stored.set(imageId, result);
      }
      if (server.loseAnswers > 0) {
        server.loseAnswers--;
        throw new ApiError(0, null);
      }
      return result;
    },
  };
  return server;
}

/**
 * Return a queue on a fake server, and what its listener heard: `held` is each image's draft as
 * the store would keep it (changed by the server's answers), `edit` changes one and hands it in.
 */
function setup(drafts, { changes = false } = {}) {
  const server = fakeServer();
  const held = new Map(drafts.map((d) => [d.key, d]));
  const statuses = [];
  const conflicts = [];
  const full = [];
  const change = changes ? (id, json) => server.change(id, json) : null;
  const queue = new SyncQueue({ save: (id, json) => server.save(id, json), change, random: () => 1 });
  queue.listen({
    status: (s) => statuses.push(s),
    saved: async (key, { version, rev }) => {
      const d = held.get(key);
      held.set(key, { ...d, baseVersion: version, syncedRev: rev === null ? d.syncedRev : Math.max(d.syncedRev, rev) });
    },
    conflict: async (key, current) => {
      held.set(key, { ...held.get(key), conflict: current });
      conflicts.push(key);
    },
    full: async (draft, rev) => {
      full.push([draft.key, rev]);
      held.set(draft.key, { ...held.get(draft.key), full: { rev } });
    },
  });
  const enqueue = (key, delayMs) => queue.enqueue(held.get(key), delayMs);
  const edit = (key, fields) => {
    const d = held.get(key);
    held.set(key, { ...d, ...fields, localRev: d.localRev + 1 });
    enqueue(key);
  };
  return { server, held, queue, statuses, conflicts, full, enqueue, edit };
}

async function settle(ms = 0) {
  await vi.advanceTimersByTimeAsync(ms);
}

const ERASER = { tool: 'eraser', width: 2, points: [[1, 2, 5, 0.5]] };

describe('SyncQueue', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('stores a dirty draft and reports saved', async () => {
    const { server, held, statuses, enqueue } = setup([draft(7)]);
    enqueue('1:7');
    await settle();
    expect(server.stored.get(7).version).toBe(1);
    expect(held.get('1:7').syncedRev).toBe(1);
    expect(statuses.at(-1)).toEqual({ status: 'saved', waiting: 0, message: null });
  });

  it('sends drafts in the order they changed, one request at a time', async () => {
    const { server, enqueue } = setup([draft(3), draft(1), draft(2)]);
    enqueue('1:3');
    enqueue('1:1');
    enqueue('1:2');
    await settle();
    expect(server.puts.map((p) => p.imageId)).toEqual([3, 1, 2]);
  });

  it('sends the latest of many changes of one image in one request', async () => {
    const { server, held, edit } = setup([draft(7, { localRev: 0 })]);
    edit('1:7', { label: 'real' });
    edit('1:7', { label: 'fake' });
    edit('1:7', { text: 'blurred' });
    await settle();
    expect(server.puts).toHaveLength(1);
    expect(server.stored.get(7)).toMatchObject({ label: 'fake', text: 'blurred', version: 1 });
    expect(held.get('1:7').syncedRev).toBe(3);
  });

  it('retries with growing back-off while the server is unreachable, then stores', async () => {
    const { server, statuses, enqueue } = setup([draft(7)]);
    server.down = true;
    enqueue('1:7');
    await settle();
    expect(statuses.at(-1).status).toBe('offline');
    expect(statuses.at(-1).waiting).toBe(1);
    await settle(backoffDelay(1, () => 1));
    await settle(backoffDelay(2, () => 1));
    expect(server.puts.length).toBe(3);
    server.down = false;
    await settle(backoffDelay(3, () => 1));
    expect(server.stored.get(7).version).toBe(1);
    expect(statuses.at(-1).status).toBe('saved');
  });

  it('sends everything waiting at once when one request gets through again', async () => {
    const { server, held, queue, enqueue } = setup([draft(1), draft(2), draft(3)]);
    server.down = true;
    for (const key of ['1:1', '1:2', '1:3']) enqueue(key);
    await settle(40000); // several attempts each: the back-off is now long
    server.down = false;
    const before = server.puts.length;
    queue.flush(held.get('1:3')).catch(() => {}); // the annotator goes on: this one is sent now...
    await settle();
    expect([...server.stored.keys()].sort()).toEqual([1, 2, 3]); // ...and the others right after it
    expect(server.puts.length).toBe(before + 3);
  });

  it('doubles the back-off up to its cap', () => {
    expect([1, 2, 3, 4, 10].map((n) => backoffDelay(n, () => 1))).toEqual([1000, 2000, 4000, 8000, 30000]);
    expect(backoffDelay(1, () => 0)).toBe(500);
  });

  it('retries at once when told the browser is back online', async () => {
    const { server, queue, enqueue } = setup([draft(7)]);
    server.down = true;
    enqueue('1:7');
    await settle();
    server.down = false;
    queue.retryNow();
    await settle();
    expect(server.stored.get(7).version).toBe(1);
  });

  it('treats a repeated save whose answer was lost as stored (idempotent)', async () => {
    const { server, held, conflicts, enqueue } = setup([draft(7)]);
    server.loseAnswers = 1;
    enqueue('1:7');
    await settle();
    await settle(backoffDelay(1, () => 1));
    expect(conflicts).toEqual([]);
    expect(server.stored.get(7).version).toBe(1);
    expect(held.get('1:7').syncedRev).toBe(1);
  });

  it('builds on its own lost save when the content changed meanwhile, without a false conflict', async () => {
    const { server, held, conflicts, enqueue, edit } = setup([draft(7)]);
    server.loseAnswers = 1;
    enqueue('1:7');
    await settle();
    edit('1:7', { strokes: [...held.get('1:7').strokes, ERASER] });
    await settle(backoffDelay(1, () => 1));
    expect(conflicts).toEqual([]);
    expect(server.stored.get(7).version).toBe(2);
    expect(server.stored.get(7).strokes.length).toBe(2);
    expect(held.get('1:7').syncedRev).toBe(2);
  });

  it('stops and reports a conflict when another tab changed the annotation', async () => {
    const { server, held, statuses, conflicts, enqueue } = setup([draft(7)]);
    server.stored.set(7, { ...draft(7), strokes: [], label: 'real', version: 3 });
    enqueue('1:7');
    await settle();
    expect(conflicts).toEqual(['1:7']);
    expect(held.get('1:7').conflict.version).toBe(3);
    expect(statuses.at(-1).status).toBe('conflict');
    expect(server.stored.get(7).label).toBe('real');
    await settle(60000);
    expect(server.puts.length).toBe(1);
  });

  it('overwrites only after the annotator chooses to keep their version', async () => {
    const { server, held, queue, enqueue } = setup([draft(7)]);
    server.stored.set(7, { ...draft(7), strokes: [], label: 'real', version: 3 });
    enqueue('1:7');
    await settle();
    const d = held.get('1:7');
    queue.resolved({ ...d, baseVersion: d.conflict.version, conflict: null });
    await settle();
    expect(server.stored.get(7).version).toBe(4);
    expect(server.stored.get(7).label).toBe(null);
  });

  it('sends again, on the version just stored, what changed while a request was out', async () => {
    const { server, held, enqueue, edit } = setup([draft(7)]);
    const original = server.save;
    server.save = async (id, json) => {
      if (held.get('1:7').localRev === 1) edit('1:7', { strokes: [...held.get('1:7').strokes, ERASER] }); // handed in on the old version
      return original(id, json);
    };
    enqueue('1:7');
    await settle();
    expect(server.puts.map((p) => p.body.version)).toEqual([0, 1]);
    expect(server.stored.get(7).strokes.length).toBe(2);
    expect(held.get('1:7').syncedRev).toBe(2);
  });

  it('sends a flushed draft as it stands then (its active time grew since its last change)', async () => {
    const { server, held, queue, enqueue } = setup([draft(7)]);
    enqueue('1:7', 5000);
    queue.flush({ ...held.get('1:7'), activeMs: 4000 }).catch(() => {});
    await settle();
    expect(server.stored.get(7).active_ms).toBe(4000);
  });

  it('pauses on a signed-out answer and keeps the draft waiting', async () => {
    const { held, queue, statuses, enqueue } = setup([draft(7)]);
    queue.save = async () => {
      throw new ApiError(403, { detail: 'not signed in' });
    };
    enqueue('1:7');
    await settle(60000);
    expect(statuses.at(-1).status).toBe('signed-out');
    expect(held.get('1:7').syncedRev).toBe(0);
  });

  it('stops sending a draft refused as full, reports it once, and sends it again only once it changed', async () => {
    const { server, statuses, full, enqueue, edit } = setup([draft(7)]);
    const original = server.save;
    server.save = async () => {
      server.puts.push({});
      throw new ApiError(409, { code: 'image_full', detail: 'This image already has the 1 annotator(s) it needs.' });
    };
    enqueue('1:7');
    await settle(60000);
    expect(full).toEqual([['1:7', 1]]);
    expect(server.puts.length).toBe(1);
    expect(statuses.at(-1)).toEqual({ status: 'saved', waiting: 0, message: null });
    enqueue('1:7'); // queued again unchanged (a reload): not sent
    await settle(60000);
    expect(server.puts.length).toBe(1);
    server.save = original; // a slot came free, and the annotator changed the drawing
    edit('1:7', {});
    await settle();
    expect(server.stored.get(7).version).toBe(1);
  });

  it('flush resolves once the draft is stored', async () => {
    const { server, held, queue, enqueue } = setup([draft(7)]);
    enqueue('1:7', 5000);
    const flushed = queue.flush(held.get('1:7'));
    await settle();
    await expect(flushed).resolves.toBeUndefined();
    expect(server.stored.has(7)).toBe(true);
  });
});

describe('SyncQueue sending changes (PATCH)', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const stroke = (x, y = 5) => ({ tool: 'brush', width: 4, points: [[x, y, 0, 0.5], [x + 1, y, 1, 0.5]] });
  const IMAGE = { id: 7, width: 100, height: 80 };

  /** A queue whose image 7 the server holds as `strokes` at version 1, opened from the server's answer. */
  function opened(strokes) {
    const setupResult = setup([draft(7, { image: IMAGE, strokes, baseVersion: 1, localRev: 0, syncedRev: 0 })], { changes: true });
    setupResult.server.stored.set(7, { strokes, label: null, text: '', status: 'draft', version: 1 });
    setupResult.queue.known(setupResult.held.get('1:7'));
    return setupResult;
  }

  it('sends only the strokes added since the version the server acknowledged', async () => {
    const first = [stroke(1), stroke(2)];
    const { server, held, edit } = opened(first);
    edit('1:7', { strokes: [...first, stroke(3)] });
    await settle();
    edit('1:7', { strokes: [...first, stroke(3), stroke(4)], label: 'real' });
    await settle();
    expect(server.puts).toHaveLength(0);
    expect(server.changes.map((c) => [c.body.version, c.body.remove, c.body.append.length, c.body.label])).toEqual([
      [1, 0, 1, undefined],
      [2, 0, 1, 'real'],
    ]);
    expect(server.changes[1].body.append).toEqual([stroke(4)]);
    expect(server.stored.get(7)).toMatchObject({ strokes: [...first, stroke(3), stroke(4)], label: 'real', version: 3 });
    expect(held.get('1:7')).toMatchObject({ baseVersion: 3, syncedRev: 2 });
  });

  it('sends an undo as strokes removed from the end, and a text change alone without strokes', async () => {
    const first = [stroke(1), stroke(2), stroke(3)];
    const { server, edit } = opened(first);
    edit('1:7', { strokes: first.slice(0, 1) });
    await settle();
    edit('1:7', { text: 'a bird' });
    await settle();
    expect(server.changes.map((c) => [c.body.remove, c.body.append.length, c.body.text])).toEqual([
      [2, 0, undefined],
      [0, 0, 'a bird'],
    ]);
    expect(server.stored.get(7)).toMatchObject({ strokes: [stroke(1)], text: 'a bird', version: 3 });
  });

  it('coalesces the changes made offline into one change per image, in order, losing nothing', async () => {
    const first = [stroke(1), stroke(2)];
    const { server, queue, edit } = opened(first);
    server.down = true;
    edit('1:7', { strokes: [...first, stroke(3)] });
    await settle();
    edit('1:7', { strokes: [stroke(1)] }); // undo twice
    edit('1:7', { strokes: [stroke(1), stroke(9)], status: 'submitted' });
    await settle();
    server.down = false;
    queue.retryNow();
    await settle();
    const sent = server.changes.at(-1).body;
    expect([sent.version, sent.remove, sent.append, sent.status]).toEqual([1, 1, [stroke(9)], 'submitted']);
    expect(server.stored.get(7)).toMatchObject({ strokes: [stroke(1), stroke(9)], status: 'submitted', version: 2 });
  });

  it('repeats a change whose answer was lost with the same op, so it is applied once', async () => {
    const { server, held, edit } = opened([stroke(1)]);
    server.loseAnswers = 1;
    edit('1:7', { strokes: [stroke(1), stroke(2)] });
    await settle(backoffDelay(1, () => 1));
    expect(server.changes).toHaveLength(2);
    expect(server.changes[0].body.op).toBe(server.changes[1].body.op);
    expect(server.stored.get(7)).toMatchObject({ strokes: [stroke(1), stroke(2)], version: 2 });
    expect(held.get('1:7')).toMatchObject({ baseVersion: 2, syncedRev: 1 });
  });

  it('builds on its own change that landed unanswered when the state changed meanwhile', async () => {
    const { server, held, edit } = opened([stroke(1)]);
    server.loseAnswers = 1;
    edit('1:7', { strokes: [stroke(1), stroke(2)] });
    await settle();
    edit('1:7', { strokes: [stroke(1), stroke(2), stroke(3)] }); // a new op: the server says 409 with our content
    await settle(backoffDelay(1, () => 1));
    expect(server.stored.get(7)).toMatchObject({ strokes: [stroke(1), stroke(2), stroke(3)], version: 3 });
    expect(held.get('1:7')).toMatchObject({ baseVersion: 3, syncedRev: 2 });
  });

  it('shows a conflict as before, and sends the whole document once the annotator keeps theirs', async () => {
    const { server, held, queue, conflicts, edit } = opened([stroke(1)]);
    server.stored.set(7, { strokes: [stroke(5)], label: null, text: '', status: 'draft', version: 2 }); // another tab
    edit('1:7', { strokes: [stroke(1), stroke(2)] });
    await settle();
    expect(conflicts).toEqual(['1:7']);
    expect(server.stored.get(7).strokes).toEqual([stroke(5)]);
    const mine = held.get('1:7');
    held.set('1:7', { ...mine, baseVersion: 2, conflict: null }); // keep mine (the store's keepMine)
    queue.resolved(held.get('1:7'));
    await settle();
    expect(server.puts.at(-1).body).toMatchObject({ version: 2, strokes: [stroke(1), stroke(2)] });
    expect(server.stored.get(7)).toMatchObject({ strokes: [stroke(1), stroke(2)], version: 3 });
  });

  it('sends the whole document when it does not know what the server holds (a draft from before a reload)', async () => {
    const { server, edit } = setup([draft(7, { image: IMAGE, localRev: 0 })], { changes: true });
    edit('1:7', { strokes: [stroke(1)] });
    await settle();
    edit('1:7', { strokes: [stroke(1), stroke(2)] });
    await settle();
    expect(server.puts.map((p) => p.body.strokes.length)).toEqual([1]);
    expect(server.changes.map((c) => c.body.append.length)).toEqual([1]);
  });

  it('sends the same content by PUT when a change is refused as a change, and shows a stroke too big for one save', async () => {
    const { server, statuses, edit } = opened([stroke(1)]);
    server.refuseChanges = true;
    edit('1:7', { strokes: [stroke(1), stroke(2)] });
    await settle();
    expect(server.puts.map((p) => p.body.strokes.length)).toEqual([2]);
    server.refuseChanges = false;
    // 5,999 segments of a 512 px brush, each over all 80 rows: 479,920 units, more than one save may paint.
    const huge = { tool: 'brush', width: 512, points: Array.from({ length: 6000 }, (_, k) => [k % 2 ? 0 : 99, 40, k, 0.5]) };
    edit('1:7', { strokes: [stroke(1), stroke(2), huge] });
    await settle(60000);
    expect(server.puts.map((p) => p.body.strokes.length)).toEqual([2, 3]); // sent once, refused, not again
    expect(server.changes).toHaveLength(1);
    expect(statuses.at(-1)).toMatchObject({ status: 'error', message: 'this save paints 479920 units of ink' });
    expect(server.stored.get(7).strokes).toEqual([stroke(1), stroke(2)]);
  });

  it('sends a study participant\'s guidance toggles with the change that follows them, once, and the time-out', async () => {
    const { server, edit } = opened([stroke(1)]);
    const shown = [{ t: 100, shown: true }];
    edit('1:7', { guidanceEvents: shown }); // a toggle alone: nothing drawn
    await settle();
    edit('1:7', { strokes: [stroke(1), stroke(2)] });
    await settle();
    const hidden = [...shown, { t: 900, shown: false }];
    edit('1:7', { strokes: [stroke(1), stroke(2), stroke(3)], guidanceEvents: hidden });
    await settle();
    edit('1:7', { timedOut: true });
    await settle();
    expect(server.puts).toHaveLength(0);
    expect(server.changes.map((c) => [c.body.append.length, c.body.guidance_events, c.body.timed_out])).toEqual([
      [0, shown, undefined],
      [1, undefined, undefined], // unchanged since the server stored them: not sent again
      [1, hidden, undefined],
      [0, undefined, true],
    ]);
  });
});

describe('SyncQueue sending a change larger than one request may paint (in parts)', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const IMAGE = { id: 7, width: 100, height: 80 };
  const small = { tool: 'brush', width: 4, points: [[1, 5, 0, 0.5], [2, 5, 1, 0.5]] };
  const theirs = { tool: 'brush', width: 4, points: [[5, 5, 0, 0.5]] };
  /** A 4 px brush up and down the 80 rows, 1,875 times: 150,000 units of ink (two fit in one save, three do not). */
  const big = (x) => ({ tool: 'brush', width: 4, points: Array.from({ length: 1876 }, (_, k) => [x, k % 2 ? 80 : 0, k, 0.5]) });
  const BIGS = [1, 2, 3, 4, 5].map(big);

  function opened(strokes) {
    const result = setup([draft(7, { image: IMAGE, strokes, baseVersion: 1, localRev: 0, syncedRev: 0 })], { changes: true });
    result.server.stored.set(7, { strokes, label: null, text: '', status: 'draft', version: 1 });
    result.queue.known(result.held.get('1:7'));
    return result;
  }

  it('counts the ink of its test strokes as the server does', () => {
    expect(strokeInk(big(1), 80)).toBe(150000);
  });

  it('sends the appended strokes in order, as many a change as fit, each change its own op and version', async () => {
    const { server, held, edit } = opened([small]);
    edit('1:7', { strokes: [small, ...BIGS], label: 'real', status: 'submitted' });
    await settle();
    expect(server.puts).toHaveLength(0);
    const bodies = server.changes.map((c) => c.body);
    expect(bodies.map((b) => [b.version, b.remove, b.append.length, b.label, b.status])).toEqual([
      [1, 0, 2, undefined, undefined],
      [2, 0, 2, undefined, undefined],
      [3, 0, 1, 'real', 'submitted'], // the answer and the submission go with the last part
    ]);
    expect(bodies.flatMap((b) => b.append)).toEqual(BIGS);
    expect(new Set(bodies.map((b) => b.op)).size).toBe(3);
    expect(server.stored.get(7)).toMatchObject({ strokes: [small, ...BIGS], label: 'real', status: 'submitted', version: 4 });
    expect(held.get('1:7')).toMatchObject({ baseVersion: 4, syncedRev: 1 });
  });

  it('removes from the end in the first part, then appends the rest', async () => {
    const { server, edit } = opened([small, small, small]);
    edit('1:7', { strokes: [small, ...BIGS.slice(0, 3)] });
    await settle();
    expect(server.changes.map((c) => [c.body.remove, c.body.append.length])).toEqual([
      [2, 2],
      [0, 1],
    ]);
    expect(server.stored.get(7).strokes).toEqual([small, ...BIGS.slice(0, 3)]);
  });

  it('with no copy of what the server holds, PUTs the strokes that fit, then sends the rest as changes', async () => {
    const { server, held, edit } = setup([draft(7, { image: IMAGE, strokes: [], localRev: 0 })], { changes: true });
    edit('1:7', { strokes: BIGS, text: 'round', timedOut: true });
    await settle();
    expect(server.puts.map((p) => [p.body.version, p.body.strokes.length, p.body.status, p.body.timed_out])).toEqual([[0, 2, 'draft', undefined]]);
    expect(server.changes.map((c) => [c.body.version, c.body.append.length])).toEqual([
      [1, 2],
      [2, 1],
    ]);
    expect(server.stored.get(7)).toMatchObject({ strokes: BIGS, text: 'round', version: 3 });
    expect(held.get('1:7')).toMatchObject({ baseVersion: 3, syncedRev: 1 });
  });

  it('repeats a part whose answer was lost with the same op, and goes on with the next', async () => {
    const { server, edit } = opened([small]);
    server.loseAnswers = 1;
    edit('1:7', { strokes: [small, ...BIGS.slice(0, 3)] });
    await settle(backoffDelay(1, () => 1));
    expect(server.changes.map((c) => [c.body.version, c.body.append.length])).toEqual([
      [1, 2],
      [1, 2],
      [2, 1],
    ]);
    expect(server.changes[0].body.op).toBe(server.changes[1].body.op);
    expect(server.stored.get(7)).toMatchObject({ strokes: [small, ...BIGS.slice(0, 3)], version: 3 });
  });

  it('coalesces what was drawn offline and sends it in parts once back, losing nothing', async () => {
    const { server, queue, held, edit } = opened([small]);
    server.down = true;
    edit('1:7', { strokes: [small, BIGS[0]] });
    await settle();
    edit('1:7', { strokes: [small, ...BIGS] });
    edit('1:7', { strokes: [small, ...BIGS.slice(0, 4)], text: 'undone once' });
    await settle();
    server.down = false;
    const sentBefore = server.changes.length;
    queue.retryNow();
    await settle();
    const sent = server.changes.slice(sentBefore);
    expect(sent.map((c) => [c.body.version, c.body.append.length, c.body.text])).toEqual([
      [1, 2, undefined],
      [2, 2, 'undone once'],
    ]);
    expect(server.stored.get(7)).toMatchObject({ strokes: [small, ...BIGS.slice(0, 4)], text: 'undone once', version: 3 });
    expect(held.get('1:7')).toMatchObject({ baseVersion: 3, syncedRev: 3 });
  });

  it('recovers a conflict over a big document in parts once the annotator keeps theirs', async () => {
    const { server, held, queue, conflicts, edit } = opened([small]);
    server.stored.set(7, { strokes: [theirs], label: null, text: '', status: 'draft', version: 2 }); // another tab
    edit('1:7', { strokes: [small, ...BIGS] });
    await settle();
    expect(conflicts).toEqual(['1:7']);
    held.set('1:7', { ...held.get('1:7'), baseVersion: 2, conflict: null }); // keep mine
    queue.resolved(held.get('1:7'));
    await settle();
    expect(server.puts.map((p) => [p.body.version, p.body.strokes.length])).toEqual([[2, 3]]);
    expect(server.changes.slice(1).map((c) => [c.body.version, c.body.append.length])).toEqual([
      [3, 2],
      [4, 1],
    ]);
    expect(server.stored.get(7)).toMatchObject({ strokes: [small, ...BIGS], version: 5 });
  });

  it('sends parts as whole documents where saves are PUTs only, the time out with the last', async () => {
    const { server, held, queue, edit } = setup([draft(7, { image: IMAGE, strokes: [small], baseVersion: 1, localRev: 0, syncedRev: 0 })]);
    server.stored.set(7, { strokes: [small], label: null, text: '', status: 'draft', version: 1 });
    queue.known(held.get('1:7'));
    edit('1:7', { strokes: [small, ...BIGS], label: 'real', timedOut: true });
    await settle();
    expect(server.puts.map((p) => [p.body.version, p.body.strokes.length, p.body.label, p.body.timed_out])).toEqual([
      [1, 3, null, undefined],
      [2, 5, null, undefined],
      [3, 6, 'real', true],
    ]);
    expect(server.stored.get(7)).toMatchObject({ strokes: [small, ...BIGS], label: 'real', version: 4 });
  });

  it('sends a study participant\'s time-out with the last part of a change, never with an earlier one', async () => {
    const { server, edit } = opened([small]);
    const events = [{ t: 50, shown: false }];
    edit('1:7', { strokes: [small, ...BIGS], label: 'real', timedOut: true, guidanceEvents: events });
    await settle();
    expect(server.puts).toHaveLength(0);
    expect(server.changes.map((c) => [c.body.version, c.body.append.length, c.body.label, c.body.timed_out, c.body.guidance_events])).toEqual([
      [1, 2, undefined, undefined, events],
      [2, 2, undefined, undefined, undefined],
      [3, 1, 'real', true, undefined],
    ]);
  });

  it('after a part refused as a change, PUTs that part and goes on: it never loops', async () => {
    const { server, statuses, edit } = opened([small]);
    server.refuseChanges = true;
    edit('1:7', { strokes: [small, ...BIGS.slice(0, 3)] });
    await settle(60000);
    expect(server.changes.map((c) => c.body.append.length)).toEqual([2, 1]);
    expect(server.puts.map((p) => p.body.strokes.length)).toEqual([3, 4]);
    expect(server.stored.get(7)).toMatchObject({ strokes: [small, ...BIGS.slice(0, 3)], version: 3 });
    expect(statuses.at(-1).status).toBe('saved');
  });
});
