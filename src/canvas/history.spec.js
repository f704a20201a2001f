import { describe, expect, it } from 'vitest';
import { MaskHistory } from './history.js';
import { rasterize } from './geometry/rasterize.js';

const W = 40;
const H = 30;

function stroke(tool, width, xy) {
  return { tool, width, points: xy.map(([x, y], i) => [x, y, i * 10, 0.5]) };
}

function draw(history, s) {
  const live = history.beginStroke(s.tool, s.width);
  for (const p of s.points) {
    live.points.push(p);
    live.paintNew();
  }
  live.finish();
  const op = { type: 'add', stroke: live.stroke };
  history.recordAdd(op, live);
  return op;
}

const strokes = [
  stroke('brush', 6, [[3, 3], [30, 20], [10, 25]]),
  stroke('eraser', 3, [[0, 10], [40, 12]]),
  stroke('lasso', 1, [[20, 2], [38, 5], [25, 28]]),
  stroke('lasso-eraser', 1, [[22, 8], [33, 9], [27, 18]]),
];

describe('MaskHistory', () => {
  it('paints a stroke drawn point by point exactly as the rasterizer does', () => {
    const history = new MaskHistory(W, H);
    for (const s of strokes) draw(history, s);
    expect(Array.from(history.mask)).toEqual(Array.from(rasterize(strokes, W, H)));
  });

  it('undoes every stroke back to the loaded mask, then redoes to the same mask', () => {
    const loaded = [stroke('brush', 9, [[5, 5]])];
    const history = new MaskHistory(W, H, loaded);
    const ops = strokes.map((s) => draw(history, s));
    const full = Array.from(history.mask);
    for (let k = ops.length - 1; k >= 0; k--) {
      history.apply(ops[k], 'undo', []);
      expect(Array.from(history.mask)).toEqual(Array.from(rasterize([...loaded, ...strokes.slice(0, k)], W, H)));
    }
    for (const op of ops) history.apply(op, 'redo', []);
    expect(Array.from(history.mask)).toEqual(full);
  });

  it('undoes a clear by restoring exactly the cleared pixels', () => {
    const history = new MaskHistory(W, H);
    for (const s of strokes) draw(history, s);
    const before = Array.from(history.mask);
    const clear = { type: 'clear' };
    history.recordClear(clear);
    expect(history.area).toBe(0);
    history.apply(clear, 'undo', []);
    expect(Array.from(history.mask)).toEqual(before);
  });

  it('keeps the mask area in step with the mask', () => {
    const history = new MaskHistory(W, H);
    const ops = strokes.map((s) => draw(history, s));
    history.apply(ops[3], 'undo', []);
    expect(history.area).toBe(history.mask.reduce((a, b) => a + b, 0));
  });

  it('rebuilds from the strokes when an operation has no delta', () => {
    const history = new MaskHistory(W, H);
    draw(history, strokes[0]);
    history.apply({ type: 'add' }, 'undo', []);
    expect(history.area).toBe(0);
  });

  it('reverts a cancelled stroke completely', () => {
    const history = new MaskHistory(W, H);
    draw(history, strokes[0]);
    const before = Array.from(history.mask);
    const live = history.beginStroke('eraser', 8);
    live.points.push([10, 10, 0, 0.5], [30, 20, 5, 0.5]);
    live.paintNew();
    expect(Array.from(history.mask)).not.toEqual(before);
    live.cancel();
    expect(Array.from(history.mask)).toEqual(before);
  });

  it('reports the tiles a stroke changed, once', () => {
    const history = new MaskHistory(200, 100);
    expect(history.takeDirty()).toEqual([{ x0: 0, y0: 0, x1: 199, y1: 99 }]); // the load
    draw(history, stroke('brush', 1, [[10.5, 10.5]]));
    expect(history.takeDirty()).toEqual([{ x0: 0, y0: 0, x1: 63, y1: 63 }]);
    expect(history.takeDirty()).toBeNull();
  });

  it('repaints a long diagonal stroke as a band of tiles, not its bounding box', () => {
    const history = new MaskHistory(640, 640);
    history.takeDirty();
    draw(history, stroke('brush', 4, [[5, 5], [635, 635]]));
    const rects = history.takeDirty();
    const pixels = rects.reduce((sum, r) => sum + (r.x1 - r.x0 + 1) * (r.y1 - r.y0 + 1), 0);
    expect(pixels).toBeLessThan((640 * 640) / 3); // about 28 tiles of the 100
  });

  it('marks the right tiles when undoing runs that continue onto the next row', () => {
    const history = new MaskHistory(128, 128);
    const op = draw(history, stroke('brush', 300, [[64, 64]])); // the whole image: one run
    history.takeDirty();
    history.apply(op, 'undo', []);
    expect(history.takeDirty()).toEqual([0, 1].map((ty) => ({ x0: 0, y0: ty * 64, x1: 127, y1: ty * 64 + 63 })));
    expect(history.area).toBe(0);
  });
});
