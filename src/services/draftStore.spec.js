import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { openDraftStore } from './draftStore.js';

function draft(key, userId, strokes) {
  return { key, userId, imageId: 1, strokes, label: 'real', text: 'because', status: 'draft', localRev: 3, syncedRev: 1 };
}

describe('draftStore (IndexedDB)', () => {
  it('gives back exactly the strokes it stored, points and all', async () => {
    const drafts = openDraftStore(new IDBFactory());
    const strokes = [{ tool: 'lasso', width: 1, points: [[0.5, 1.25, 0, 0.5], [9, 9, 16.5, 1], [3, 7, 20, 0]] }];
    await drafts.put(draft('9:1', 9, strokes));
    const stored = await drafts.get('9:1');
    expect(stored.strokes).toEqual(strokes);
    expect(stored.localRev).toBe(3);
  });

  it('lists only the given user’s drafts', async () => {
    const drafts = openDraftStore(new IDBFactory());
    await drafts.put(draft('9:1', 9, []));
    await drafts.put(draft('8:1', 8, []));
    expect((await drafts.list(9)).map((d) => d.key)).toEqual(['9:1']);
  });

  it('patches fields in place without touching the strokes', async () => {
    const drafts = openDraftStore(new IDBFactory());
    const strokes = [{ tool: 'brush', width: 2, points: [[1, 1, 0, 0.5]] }];
    await drafts.put(draft('9:1', 9, strokes));
    await drafts.patch('9:1', { syncedRev: 3 });
    const stored = await drafts.get('9:1');
    expect(stored.syncedRev).toBe(3);
    expect(stored.strokes).toEqual(strokes);
  });

  it('keeps drafts across reopening the database (a reload)', async () => {
    const factory = new IDBFactory();
    await openDraftStore(factory).put(draft('9:1', 9, []));
    expect(await openDraftStore(factory).get('9:1')).not.toBeNull();
  });
});
