import { describe, expect, it } from 'vitest';
import { rasterize } from './geometry/rasterize.js';
import { Mask } from './mask.js';

const W = 40;
const H = 30;

function stroke(tool, width, xy) {
  return { tool, width, points: xy.map(([x, y], i) => [x, y, i * 10, 0.5]) };
}

/** Paint a stroke point by point as the drawing does; return its delta. */
function draw(mask, s) {
  const live = mask.beginStroke(s.tool, s.width);
  for (const p of s.points) {
    live.points.push(p);
    live.paintNew();
  }
  live.finish();
  return live.delta;
}

const strokes = [
  stroke('brush', 6, [[3, 3], [30, 20], [10, 25]]),
  stroke('eraser', 3, [[0, 10], [40, 12]]),
  stroke('lasso', 1, [[20, 2], [38, 5], [25, 28]]),
  stroke('lasso-eraser', 1, [[22, 8], [33, 9], [27, 18]]),
];

const areaOf = (mask) => mask.mask.reduce((a, b) => a + b, 0);

describe('Mask', () => {
  it('paints a stroke drawn point by point exactly as the rasterizer does', () => {
    const mask = new Mask(W, H);
    for (const s of strokes) draw(mask, s);
    expect(Array.from(mask.mask)).toEqual(Array.from(rasterize(strokes, W, H)));
  });

  it('paints a whole stroke at once exactly as the rasterizer does', () => {
    const mask = new Mask(W, H);
    for (const s of strokes) mask.paintStroke(s);
    expect(Array.from(mask.mask)).toEqual(Array.from(rasterize(strokes, W, H)));
  });

  it('flips a stroke’s pixels back and again with its delta', () => {
    const loaded = [stroke('brush', 9, [[5, 5]])];
    const mask = new Mask(W, H, loaded);
    const before = Array.from(mask.mask);
    const delta = draw(mask, strokes[0]);
    const after = Array.from(mask.mask);
    mask.flip(delta, 'undo');
    expect(Array.from(mask.mask)).toEqual(before);
    mask.flip(delta, 'redo');
    expect(Array.from(mask.mask)).toEqual(after);
  });

  it('clears every pixel and restores exactly those', () => {
    const mask = new Mask(W, H, strokes);
    const before = Array.from(mask.mask);
    const delta = mask.clearAll();
    expect(mask.area).toBe(0);
    expect(areaOf(mask)).toBe(0);
    mask.flip(delta, 'undo');
    expect(Array.from(mask.mask)).toEqual(before);
  });

  it('keeps the area in step with the pixels', () => {
    const mask = new Mask(W, H);
    const deltas = strokes.map((s) => draw(mask, s));
    expect(mask.area).toBe(areaOf(mask));
    mask.flip(deltas[3], 'undo');
    expect(mask.area).toBe(areaOf(mask));
  });

  it('reverts a cancelled stroke completely', () => {
    const mask = new Mask(W, H);
    draw(mask, strokes[0]);
    const before = Array.from(mask.mask);
    const live = mask.beginStroke('eraser', 8);
    live.points.push([10, 10, 0, 0.5], [30, 20, 5, 0.5]);
    live.paintNew();
    expect(Array.from(mask.mask)).not.toEqual(before);
    live.cancel();
    expect(Array.from(mask.mask)).toEqual(before);
  });

  it('reports the tiles a stroke changed, once', () => {
    const mask = new Mask(200, 100);
    expect(mask.takeDirty()).toEqual([{ x0: 0, y0: 0, x1: 199, y1: 99 }]); // the load
    draw(mask, stroke('brush', 1, [[10.5, 10.5]]));
    expect(mask.takeDirty()).toEqual([{ x0: 0, y0: 0, x1: 63, y1: 63 }]);
    expect(mask.takeDirty()).toBeNull();
  });

  it('repaints a long diagonal stroke as a band of tiles, not its bounding box', () => {
    const mask = new Mask(640, 640);
    mask.takeDirty();
    draw(mask, stroke('brush', 4, [[5, 5], [635, 635]]));
    const rects = mask.takeDirty();
    const pixels = rects.reduce((sum, r) => sum + (r.x1 - r.x0 + 1) * (r.y1 - r.y0 + 1), 0);
    expect(pixels).toBeLessThan((640 * 640) / 3); // about 28 tiles of the 100
  });

  it('marks the right tiles when flipping runs that continue onto the next row', () => {
    const mask = new Mask(128, 128);
    const delta = draw(mask, stroke('brush', 300, [[64, 64]])); // the whole image: one run
    mask.takeDirty();
    mask.flip(delta, 'undo');
    expect(mask.takeDirty()).toEqual([0, 1].map((ty) => ({ x0: 0, y0: ty * 64, x1: 127, y1: ty * 64 + 63 })));
    expect(mask.area).toBe(0);
  });
});
