import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from '../api/client.js';
import { contentKey } from '../document.js';
import { SyncQueue, backoffDelay } from './syncQueue.js';

function draft(imageId, fields = {}) {
  return {
    key: `1:${imageId}`, userId: 1, imageId, datasetId: 1, image: { id: imageId },
    strokes: [{ tool: 'brush', width: 4, points: [[1, 2, 0, 0.5]] }],
    label: null, text: '', status: 'draft', baseVersion: 0, localRev: 1, syncedRev: 0,
    startedAt: '2025-01-01T00:00:00Z', activeMs: 0, conflict: null, ...fields,
  };
}

/** A fake server with the real PUT semantics: versions, idempotent repeats, 409 with current. */
function fakeServer() {
  const stored = new Map();
  const server = {
    stored,
    down: false,
    loseAnswers: 0,
    puts: [],
    async save(imageId, json) {
      const body = JSON.parse(json);
      server.puts.push({ imageId, body });
      if (server.down) throw new ApiError(0, null);
      const current = stored.get(imageId);
      let result;
      if (current && contentKey(current) === contentKey(body)) result = current;
      else if ((current ? current.version : 0) !== body.version) {
        throw new ApiError(409, { code: 'version_conflict', detail: 'changed elsewhere', current });
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
function setup(drafts) {
  const server = fakeServer();
  const held = new Map(drafts.map((d) => [d.key, d]));
  const statuses = [];
  const conflicts = [];
  const full = [];
  const queue = new SyncQueue({ save: (id, json) => server.save(id, json), random: () => 1 });
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
