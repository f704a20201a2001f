import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createDevice } from './device.js';
import { memoryDraftStore } from './draftStore.js';
import { DEBOUNCE_MS, createSync } from './sync.js';

function draft(imageId, fields = {}) {
  return {
    key: `9:${imageId}`, userId: 9, imageId, datasetId: 1, image: { id: imageId }, strokes: [], label: 'real', text: '',
    status: 'draft', baseVersion: 0, localRev: 1, syncedRev: 0, startedAt: '2025-01-01T00:00:00Z', activeMs: 0,
    updatedAt: imageId, conflict: null, ...fields,
  };
}

function setup() {
  const saved = [];
  const api = {
    images: {
      saveAnnotation: async (imageId, json) => {
        const body = JSON.parse(json);
        saved.push({ imageId, body });
        return { ...body, version: body.version + 1 };
      },
    },
  };
  const drafts = memoryDraftStore();
  const device = createDevice({ userAgent: 'test' }, { devicePixelRatio: 1 });
  const sync = createSync({ api, drafts, device });
  const heard = [];
  sync.listen({ saved: async (key, ack) => heard.push([key, ack]) });
  return { sync, drafts, device, saved, heard };
}

describe('the sync service', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('sends a change once the annotator pauses, saying which pointers drew', async () => {
    const { sync, device, saved, heard } = setup();
    device.notePointer('pen');
    sync.enqueue(draft(5));
    await vi.advanceTimersByTimeAsync(DEBOUNCE_MS - 50);
    expect(saved).toEqual([]);
    await vi.advanceTimersByTimeAsync(100);
    expect(saved.map((s) => [s.imageId, s.body.client.pointer_types])).toEqual([[5, ['pen']]]);
    expect(heard).toEqual([['9:5', { version: 1, rev: 1 }]]);
  });

  it('queues the unsent drafts kept in IndexedDB, oldest first, and none already sent', async () => {
    const { sync, drafts, saved } = setup();
    await drafts.put(draft(3, { updatedAt: 30 }));
    await drafts.put(draft(2, { updatedAt: 20 }));
    await drafts.put(draft(4, { localRev: 2, syncedRev: 2 }));
    await drafts.put(draft(7, { userId: 8, key: '8:7' }));
    await sync.queueStored(9);
    await vi.advanceTimersByTimeAsync(0);
    expect(saved.map((s) => s.imageId)).toEqual([2, 3]);
  });

  it('takes the open draft as it stands in the page over its stored copy', async () => {
    const sent = setup();
    await sent.drafts.put(draft(5, { localRev: 3 }));
    await sent.sync.queueStored(9, draft(5, { localRev: 3, syncedRev: 3 })); // sent from the page, not yet marked where stored
    const changed = setup();
    await changed.drafts.put(draft(3, { label: 'real' }));
    await changed.sync.queueStored(9, draft(3, { label: 'fake', localRev: 2 })); // changed since it was stored
    await vi.advanceTimersByTimeAsync(0);
    expect(sent.saved).toEqual([]);
    expect(changed.saved.map((s) => [s.imageId, s.body.label])).toEqual([[3, 'fake']]);
  });
});
