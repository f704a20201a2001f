import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from '../../api/client.js';
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

function setup(drafts) {
  const server = fakeServer();
  const byKey = new Map(drafts.map((d) => [d.key, d]));
  const statuses = [];
  const conflicts = [];
  const queue = new SyncQueue({
    save: (id, json) => server.save(id, json),
    getDraft: async (key) => byKey.get(key) || null,
    markSynced: async (key, { version, rev }) => {
      const d = byKey.get(key);
      d.baseVersion = version;
      if (rev !== null) d.syncedRev = Math.max(d.syncedRev, rev);
    },
    markConflict: async (key, current) => {
      byKey.get(key).conflict = current;
      conflicts.push(key);
    },
    report: (s) => statuses.push(s),
    random: () => 1,
  });
  return { server, byKey, queue, statuses, conflicts };
}

async function settle(ms = 0) {
  await vi.advanceTimersByTimeAsync(ms);
}

describe('SyncQueue', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('stores a dirty draft and reports saved', async () => {
    const { server, byKey, queue, statuses } = setup([draft(7)]);
    queue.enqueue('1:7');
    await settle();
    expect(server.stored.get(7).version).toBe(1);
    expect(byKey.get('1:7').syncedRev).toBe(1);
    expect(statuses.at(-1)).toEqual({ status: 'saved', waiting: 0, message: null });
  });

  it('sends drafts in the order they changed, one request at a time', async () => {
    const { server, queue } = setup([draft(3), draft(1), draft(2)]);
    queue.enqueue('1:3');
    queue.enqueue('1:1');
    queue.enqueue('1:2');
    await settle();
    expect(server.puts.map((p) => p.imageId)).toEqual([3, 1, 2]);
  });

  it('retries with growing back-off while the server is unreachable, then stores', async () => {
    const { server, queue, statuses } = setup([draft(7)]);
    server.down = true;
    queue.enqueue('1:7');
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
    const { server, queue } = setup([draft(1), draft(2), draft(3)]);
    server.down = true;
    for (const key of ['1:1', '1:2', '1:3']) queue.enqueue(key);
    await settle(40000); // several attempts each: the back-off is now long
    server.down = false;
    const before = server.puts.length;
    queue.flush('1:3').catch(() => {}); // the annotator goes on: this one is sent now...
    await settle();
    expect([...server.stored.keys()].sort()).toEqual([1, 2, 3]); // ...and the others right after it
    expect(server.puts.length).toBe(before + 3);
  });

  it('doubles the back-off up to its cap', () => {
    expect([1, 2, 3, 4, 10].map((n) => backoffDelay(n, () => 1))).toEqual([1000, 2000, 4000, 8000, 30000]);
    expect(backoffDelay(1, () => 0)).toBe(500);
  });

  it('retries at once when told the browser is back online', async () => {
    const { server, queue } = setup([draft(7)]);
    server.down = true;
    queue.enqueue('1:7');
    await settle();
    server.down = false;
    queue.retryNow();
    await settle();
    expect(server.stored.get(7).version).toBe(1);
  });

  it('treats a repeated save whose answer was lost as stored (idempotent)', async () => {
    const { server, byKey, queue, conflicts } = setup([draft(7)]);
    server.loseAnswers = 1;
    queue.enqueue('1:7');
    await settle();
    await settle(backoffDelay(1, () => 1));
    expect(conflicts).toEqual([]);
    expect(server.stored.get(7).version).toBe(1);
    expect(byKey.get('1:7').syncedRev).toBe(1);
  });

  it('builds on its own lost save when the content changed meanwhile, without a false conflict', async () => {
    const { server, byKey, queue, conflicts } = setup([draft(7)]);
    server.loseAnswers = 1;
    queue.enqueue('1:7');
    await settle();
    const d = byKey.get('1:7');
    d.strokes = [...d.strokes, { tool: 'eraser', width: 2, points: [[1, 2, 5, 0.5]] }];
    d.localRev = 2;
    await settle(backoffDelay(1, () => 1));
    expect(conflicts).toEqual([]);
    expect(server.stored.get(7).version).toBe(2);
    expect(server.stored.get(7).strokes.length).toBe(2);
    expect(d.syncedRev).toBe(2);
  });

  it('stops and reports a conflict when another tab changed the annotation', async () => {
    const { server, byKey, queue, statuses, conflicts } = setup([draft(7)]);
    server.stored.set(7, { ...draft(7), strokes: [], label: 'real', version: 3 });
    queue.enqueue('1:7');
    await settle();
    expect(conflicts).toEqual(['1:7']);
    expect(byKey.get('1:7').conflict.version).toBe(3);
    expect(statuses.at(-1).status).toBe('conflict');
    expect(server.stored.get(7).label).toBe('real');
    await settle(60000);
    expect(server.puts.length).toBe(1);
  });

  it('overwrites only after the annotator chooses to keep their version', async () => {
    const { server, byKey, queue } = setup([draft(7)]);
    server.stored.set(7, { ...draft(7), strokes: [], label: 'real', version: 3 });
    queue.enqueue('1:7');
    await settle();
    const d = byKey.get('1:7');
    d.baseVersion = d.conflict.version;
    d.conflict = null;
    queue.resolved('1:7');
    await settle();
    expect(server.stored.get(7).version).toBe(4);
    expect(server.stored.get(7).label).toBe(null);
  });

  it('sends again what changed while a request was out', async () => {
    const { server, byKey, queue } = setup([draft(7)]);
    const original = server.save;
    server.save = async (id, json) => {
      const d = byKey.get('1:7');
      if (d.localRev === 1) {
        d.strokes = [...d.strokes, { tool: 'brush', width: 9, points: [[5, 5, 9, 0.5]] }];
        d.localRev = 2;
      }
      return original(id, json);
    };
    queue.enqueue('1:7');
    await settle();
    expect(server.stored.get(7).strokes.length).toBe(2);
    expect(byKey.get('1:7').syncedRev).toBe(2);
  });

  it('pauses on a signed-out answer and keeps the draft waiting', async () => {
    const { byKey, queue, statuses } = setup([draft(7)]);
    queue.save = async () => {
      throw new ApiError(403, { detail: 'not signed in' });
    };
    queue.enqueue('1:7');
    await settle(60000);
    expect(statuses.at(-1).status).toBe('signed-out');
    expect(byKey.get('1:7').syncedRev).toBe(0);
  });

  it('stops sending a draft refused as full, reports it once, and sends it again only once it changed', async () => {
    const { server, byKey, queue, statuses } = setup([draft(7)]);
    const full = [];
    queue.markFull = async (key, info) => {
      full.push([key, info.rev]);
      byKey.get(key).full = { rev: info.rev };
    };
    const original = server.save;
    server.save = async () => {
      server.puts.push({});
      throw new ApiError(409, { code: 'image_full', detail: 'This image already has the 1 annotator(s) it needs.' });
    };
    queue.enqueue('1:7');
    await settle(60000);
    expect(full).toEqual([['1:7', 1]]);
    expect(server.puts.length).toBe(1);
    expect(statuses.at(-1)).toEqual({ status: 'saved', waiting: 0, message: null });
    queue.enqueue('1:7'); // queued again unchanged (a reload): not sent
    await settle(60000);
    expect(server.puts.length).toBe(1);
    server.save = original; // a slot came free, and the annotator changed the drawing
    byKey.get('1:7').localRev = 2;
    queue.enqueue('1:7');
    await settle();
    expect(server.stored.get(7).version).toBe(1);
  });

  it('flush resolves once the draft is stored', async () => {
    const { server, queue } = setup([draft(7)]);
    queue.enqueue('1:7', 5000);
    const flushed = queue.flush('1:7');
    await settle();
    await expect(flushed).resolves.toBeUndefined();
    expect(server.stored.has(7)).toBe(true);
  });
});
