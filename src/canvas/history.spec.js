import { describe, expect, it } from 'vitest';
import { rasterize } from './geometry/rasterize.js';
import { History, MAX_UNDO } from './history.js';
import { Mask } from './mask.js';

const W = 40;
const H = 30;

function stroke(tool, width, xy) {
  return { tool, width, points: xy.map(([x, y], i) => [x, y, i * 10, 0.5]) };
}

const strokes = [
  stroke('brush', 6, [[3, 3], [30, 20], [10, 25]]),
  stroke('eraser', 3, [[0, 10], [40, 12]]),
  stroke('lasso', 1, [[20, 2], [38, 5], [25, 28]]),
  stroke('lasso-eraser', 1, [[22, 8], [33, 9], [27, 18]]),
];

/** Return a history on the mask of `loaded`, with `added` added after it, and the strokes it leaves. */
function edited(loaded, added) {
  const history = new History(new Mask(W, H, loaded));
  let doc = loaded;
  for (const s of added) doc = history.add(doc, s);
  return { history, doc };
}

const pixels = (history) => Array.from(history.mask.mask);

describe('History', () => {
  it('undoes every stroke back to the loaded mask, then redoes to the same mask', () => {
    const loaded = [stroke('brush', 9, [[5, 5]])];
    let { history, doc } = edited(loaded, strokes);
    const full = pixels(history);
    for (let k = strokes.length - 1; k >= 0; k--) {
      doc = history.undo(doc);
      expect(doc).toEqual([...loaded, ...strokes.slice(0, k)]);
      expect(pixels(history)).toEqual(Array.from(rasterize(doc, W, H)));
    }
    expect(history.undo(doc)).toBeNull(); // the loaded strokes are not the history's to undo
    for (const _ of strokes) doc = history.redo(doc);
    expect(doc).toEqual([...loaded, ...strokes]);
    expect(pixels(history)).toEqual(full);
    expect(history.redo(doc)).toBeNull();
  });

  it('undoes a clear by giving back the strokes and exactly the cleared pixels', () => {
    let { history, doc } = edited([], strokes);
    const before = pixels(history);
    doc = history.clear(doc);
    expect(doc).toEqual([]);
    expect(history.mask.area).toBe(0);
    doc = history.undo(doc);
    expect(doc).toEqual(strokes);
    expect(pixels(history)).toEqual(before);
    expect(history.redo(doc)).toEqual([]);
    expect(history.mask.area).toBe(0);
  });

  it('never changes the strokes list it is given', () => {
    const { history, doc } = edited([], strokes.slice(0, 2));
    const copy = [...doc];
    history.add(doc, strokes[2]);
    history.undo(doc);
    history.clear(doc);
    expect(doc).toEqual(copy);
  });

  it('records the pixels a stroke painted as it was drawn, without painting it again', () => {
    const mask = new Mask(W, H);
    const history = new History(mask);
    const live = mask.beginStroke('brush', 6);
    live.points.push(...strokes[0].points);
    live.paintNew();
    const drawn = live.finish();
    const doc = history.add([], drawn, live.delta);
    expect(mask.area).toBe(Array.from(rasterize([drawn], W, H)).reduce((a, b) => a + b, 0));
    history.undo(doc);
    expect(mask.area).toBe(0);
  });

  it('drops what was undone once a new stroke is drawn', () => {
    let { history, doc } = edited([], strokes.slice(0, 2));
    doc = history.undo(doc);
    doc = history.add(doc, strokes[3]);
    expect(history.redoCount).toBe(0);
    expect(doc).toEqual([strokes[0], strokes[3]]);
    expect(pixels(history)).toEqual(Array.from(rasterize(doc, W, H)));
  });

  it('forgets the oldest step past MAX_UNDO, keeping its stroke', () => {
    const dot = stroke('brush', 1, [[1, 1]]);
    const { history, doc } = edited([], Array(MAX_UNDO + 3).fill(dot));
    expect(history.undoCount).toBe(MAX_UNDO);
    let left = doc;
    while (history.undoCount) left = history.undo(left);
    expect(left).toHaveLength(3);
  });

  it('flips back a stroke the document refused', () => {
    const mask = new Mask(W, H);
    const history = new History(mask);
    const live = mask.beginStroke('brush', 6);
    live.points.push(...strokes[0].points);
    live.finish();
    history.discard(live.delta);
    expect(mask.area).toBe(0);
    expect(history.undoCount).toBe(0);
  });
});
