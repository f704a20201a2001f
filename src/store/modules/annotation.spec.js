import { describe, expect, it, vi } from 'vitest';
import { brush, fakeApi, setup, useFakeTimersAndStorage } from '../testing.js';
import { memoryDraftStore } from '../../services/draftStore.js';
import { missingParts } from './annotation.js';

describe('the open document', () => {
  useFakeTimersAndStorage();

  it('undoes and redoes strokes and a clear in order', async () => {
    const { store } = await setup();
    await store.dispatch('annotation/addStroke', { stroke: brush(2) });
    await store.dispatch('annotation/addStroke', { stroke: brush(8) });
    await store.dispatch('annotation/clear');
    expect(store.state.annotation.strokes).toEqual([]);
    await store.dispatch('annotation/undo');
    expect(store.state.annotation.strokes.length).toBe(2);
    await store.dispatch('annotation/undo');
    expect(store.state.annotation.strokes).toEqual([brush(2)]);
    await store.dispatch('annotation/redo');
    await store.dispatch('annotation/redo');
    expect(store.state.annotation.strokes).toEqual([]);
    expect(store.state.annotation.redoCount).toBe(0);
  });

  it('opens every other image with the brush, whatever tool the last one ended with', async () => {
    const { store } = await setup();
    store.commit('tools/setTool', 'eraser');
    await store.dispatch('navigation/openImage', { datasetId: 1, imageId: 5 }); // the same image again: kept
    expect(store.state.tools.tool).toBe('eraser');
    await store.dispatch('navigation/openImage', { datasetId: 1, imageId: 6 });
    expect(store.state.tools.tool).toBe('brush');
    store.commit('tools/setTool', 'lasso-eraser');
    await store.dispatch('navigation/openImage', { datasetId: 1, imageId: 5 });
    expect(store.state.tools.tool).toBe('brush');
  });

  it('drops the redo stack when a new stroke is drawn', async () => {
    const { store } = await setup();
    await store.dispatch('annotation/addStroke', { stroke: brush(2) });
    await store.dispatch('annotation/undo');
    await store.dispatch('annotation/addStroke', { stroke: brush(4) });
    expect(store.state.annotation.redoCount).toBe(0);
    expect(store.state.annotation.strokes).toEqual([brush(4)]);
  });

  it('persists every stroke to the draft store at once', async () => {
    const { store, drafts } = await setup();
    await store.dispatch('annotation/addStroke', { stroke: brush(2) });
    await vi.advanceTimersByTimeAsync(0);
    const stored = await drafts.get('9:5');
    expect(stored.strokes).toEqual([brush(2)]);
    expect(stored.localRev).toBe(1);
  });

  it('hands each change, once, to persistence and to the sync service, as the draft then stands', async () => {
    const { store, sync, persistence } = await setup();
    const sent = vi.spyOn(sync, 'enqueue');
    const kept = vi.spyOn(persistence, 'save');
    await store.dispatch('annotation/addStroke', { stroke: brush(2) });
    await store.dispatch('annotation/chooseLabel', 'real');
    store.commit('annotation/setStatus', 'submitted');
    await store.dispatch('annotation/undo'); // the mask goes, so the image goes back to draft: one change still
    await store.dispatch('annotation/redo');
    await store.dispatch('annotation/clear');
    await store.dispatch('annotation/typeText', 'iris hidden');
    expect(sent).toHaveBeenCalledTimes(6);
    expect(kept).toHaveBeenCalledTimes(6);
    expect(sent.mock.calls.map(([d]) => d.localRev)).toEqual([1, 2, 5, 6, 7, 8]);
    expect(sent.mock.calls[5][0]).toMatchObject({ text: 'iris hidden', strokes: [], status: 'draft' });
    expect(kept.mock.calls.map(([d]) => d)).toEqual(sent.mock.calls.map(([d]) => d));
  });

  it('applies the server’s answers to the open draft here, and to another where it is stored', async () => {
    const { store, drafts } = await setup();
    const open = store.getters['annotation/currentDraft'];
    await drafts.put({ ...open, key: '9:6', imageId: 6, localRev: 3 });
    await store.dispatch('annotation/noteSaved', { key: '9:6', version: 4, rev: 2 });
    expect(await drafts.get('9:6')).toMatchObject({ baseVersion: 4, syncedRev: 2, localRev: 3 });
    expect(store.state.annotation.draft.baseVersion).toBe(0);
    const current = { version: 2, strokes: [], label: 'fake', text: '', status: 'draft' };
    await store.dispatch('annotation/noteConflict', { key: open.key, current });
    expect(store.state.annotation.draft.conflict).toEqual(current);
    expect((await drafts.get(open.key)).conflict).toEqual(current); // kept for a reload
  });

  it('keeps both versions of a conflict: the stored strokes after this tab’s, saved over the stored one', async () => {
    const { store, api } = await setup();
    await store.dispatch('annotation/addStroke', { stroke: brush(2) });
    await vi.advanceTimersByTimeAsync(1000);
    api.annotation = { version: 5, strokes: [brush(8), brush(9)], label: 'fake', text: 'seen elsewhere', status: 'draft' };
    await store.dispatch('annotation/addStroke', { stroke: brush(4) });
    await store.dispatch('annotation/noteConflict', { key: '9:5', current: api.annotation });
    expect(await store.dispatch('annotation/keepBoth')).toBe(true);
    await vi.advanceTimersByTimeAsync(1000);
    const last = api.saved[api.saved.length - 1].body;
    expect(last.strokes).toEqual([brush(2), brush(4), brush(8), brush(9)]);
    expect(last.version).toBe(5);
    expect([last.label, last.text]).toEqual(['fake', 'seen elsewhere']); // this tab had none
    expect(store.state.annotation.draft.conflict).toBeNull();
    expect(store.state.annotation.area).toBeGreaterThan(0);
    expect(store.state.sync.status).toBe('saved');
  });

  it('stops saying Saved when another tab stores other content over the open image', async () => {
    const { store, api } = await setup();
    await store.dispatch('annotation/addStroke', { stroke: brush(2) });
    await vi.advanceTimersByTimeAsync(1000);
    expect(store.state.sync.status).toBe('saved');
    const json = JSON.stringify({ strokes: [brush(7)], label: null, text: '', status: 'draft', version: 1 });
    await store.dispatch('annotation/noteStoredElsewhere', { key: '9:6', version: 2, json }); // another image: nothing
    expect(store.state.sync.status).toBe('saved');
    await store.dispatch('annotation/noteStoredElsewhere', { key: '9:5', version: 2, json });
    expect(store.state.sync.status).toBe('conflict');
    expect(store.state.annotation.draft.conflict).toMatchObject({ version: 2, strokes: [brush(7)] });
    // Keeping this tab's version sends it, though nothing here was unsent.
    await store.dispatch('annotation/keepMine');
    await vi.advanceTimersByTimeAsync(1000);
    expect(api.saved[api.saved.length - 1].body).toMatchObject({ version: 2, strokes: [brush(2)] });
    expect(store.state.sync.status).toBe('saved');
  });

  it('only moves the version on when another tab stored the same content', async () => {
    const { store } = await setup();
    await store.dispatch('annotation/addStroke', { stroke: brush(2) });
    await vi.advanceTimersByTimeAsync(1000);
    const json = JSON.stringify({ strokes: [brush(2)], label: null, text: '', status: 'draft', version: 1 });
    await store.dispatch('annotation/noteStoredElsewhere', { key: '9:5', version: 3, json });
    expect(store.state.annotation.draft.baseVersion).toBe(3);
    expect(store.state.annotation.draft.conflict).toBeNull();
    expect(store.state.sync.status).toBe('saved');
  });

  it('syncs the draft in the background and marks it saved', async () => {
    const { store, api } = await setup();
    await store.dispatch('annotation/addStroke', { stroke: brush(2) });
    await vi.advanceTimersByTimeAsync(1000);
    expect(api.saved.length).toBe(1);
    expect(api.saved[0].body.strokes).toEqual([brush(2)]);
    expect(store.state.annotation.draft.baseVersion).toBe(1);
    expect(store.state.sync.status).toBe('saved');
  });

  it('restores unsent work after a reload instead of the server copy', async () => {
    const drafts = memoryDraftStore();
    const api = fakeApi();
    api.online = false;
    const first = await setup(drafts, api).catch(() => null);
    expect(first).toBeNull(); // offline and never seen: cannot open
    api.online = true;
    const { store } = await setup(drafts, api);
    api.online = false;
    await store.dispatch('annotation/addStroke', { stroke: brush(2) });
    await vi.advanceTimersByTimeAsync(1000);
    expect(store.state.sync.status).toBe('offline');
    // A fresh store (a reload) while still offline shows the unsent stroke from the draft store...
    const reloaded = await setup(drafts, api);
    expect(reloaded.store.state.annotation.strokes).toEqual([brush(2)]);
    expect(api.annotation.strokes).toEqual([]);
    // ...and sends it once the server answers again.
    api.online = true;
    reloaded.sync.retryNow();
    await vi.advanceTimersByTimeAsync(1000);
    expect(api.annotation.strokes).toEqual([brush(2)]);
  });

  it('goes back to draft when a submitted image loses its mask', async () => {
    const { store } = await setup();
    await store.dispatch('annotation/addStroke', { stroke: brush(2) });
    await store.dispatch('annotation/chooseLabel', 'real');
    store.commit('annotation/setStatus', 'submitted');
    await store.dispatch('annotation/undo');
    expect(store.state.annotation.area).toBe(0);
    expect(store.state.annotation.draft.status).toBe('draft');
  });

  it('keeps the mask and its area in step with the strokes through undo, redo and clear', async () => {
    const { store } = await setup();
    const area = () => store.state.annotation.area;
    const masked = () => store.getters['annotation/mask'].mask.reduce((a, b) => a + b, 0);
    await store.dispatch('annotation/addStroke', { stroke: brush(2) });
    const one = area();
    expect(one).toBeGreaterThan(0);
    await store.dispatch('annotation/addStroke', { stroke: brush(12) });
    expect(area()).toBe(2 * one);
    await store.dispatch('annotation/clear');
    expect([area(), masked()]).toEqual([0, 0]);
    await store.dispatch('annotation/undo');
    expect([area(), masked()]).toEqual([2 * one, 2 * one]);
    await store.dispatch('annotation/undo');
    await store.dispatch('annotation/redo');
    expect([area(), masked()]).toEqual([2 * one, 2 * one]);
  });

  it('flips back a drawn stroke the document refuses', async () => {
    const api = fakeApi();
    api.annotation = { ...api.annotation, version: 1, strokes: Array.from({ length: 5000 }, () => brush(2)) };
    const { store } = await setup(memoryDraftStore(), api);
    const mask = store.getters['annotation/mask'];
    const before = mask.area;
    const live = mask.beginStroke('brush', 3);
    live.points.push([15, 5, 0, 0.5]);
    const stroke = live.finish();
    expect(mask.area).toBeGreaterThan(before);
    expect(await store.dispatch('annotation/addStroke', { stroke, delta: live.delta })).toBe(false);
    expect(mask.area).toBe(before);
    expect(store.state.annotation.area).toBe(before);
  });

  it('refuses a stroke past the server’s stroke limit, changing and sending nothing', async () => {
    const api = fakeApi();
    api.annotation = { ...api.annotation, version: 1, strokes: Array.from({ length: 5000 }, (_, k) => brush(k % 20)) };
    const { store } = await setup(memoryDraftStore(), api);
    expect(store.getters['annotation/size']).toEqual({ strokes: 5000, points: 5000 });
    expect(store.getters['annotation/limit'].level).toBe('full');
    expect(await store.dispatch('annotation/addStroke', { stroke: brush(2) })).toBe(false);
    await vi.advanceTimersByTimeAsync(1000);
    expect(store.state.annotation.strokes).toHaveLength(5000);
    expect(store.state.annotation.undoCount).toBe(0);
    expect(api.saved).toEqual([]);
    // Clearing (or undoing) frees room: a new stroke is taken again.
    store.commit('annotation/clear');
    expect(store.getters['annotation/limit']).toBeNull();
    expect(await store.dispatch('annotation/addStroke', { stroke: brush(2) })).toBe(true);
  });

  it('refuses a stroke past the server’s point limit', async () => {
    const api = fakeApi();
    const long = { tool: 'brush', width: 3, points: Array.from({ length: 20000 }, (_, k) => [k / 1000, 5, k, 0.5]) };
    api.annotation = { ...api.annotation, version: 1, strokes: Array(12).fill(long) };
    const { store } = await setup(memoryDraftStore(), api);
    expect(store.getters['annotation/limit'].message).toMatch(/^This image holds 240,000 of the 250,000 points/);
    expect(await store.dispatch('annotation/addStroke', { stroke: { ...long, points: long.points.slice(0, 10001) } })).toBe(false);
    expect(await store.dispatch('annotation/addStroke', { stroke: { ...long, points: long.points.slice(0, 10000) } })).toBe(true);
    expect(store.getters['annotation/size'].points).toBe(250000);
    expect(store.getters['annotation/limit'].message).toMatch(/250,000-point limit/);
  });

});

describe('missingParts', () => {
  it('lists nothing when the dataset requires nothing', () => {
    expect(missingParts({ required: {} }, { label: null, text: '', area: 0 })).toEqual([]);
  });

  it('asks for a justification when text is required and blank', () => {
    expect(missingParts({ required: { text: true } }, { label: null, text: '  ', area: 0 })).toEqual(['type a justification']);
  });
});
