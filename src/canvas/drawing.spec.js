import { describe, expect, it } from 'vitest';
import { Drawing } from './drawing.js';
import { strokeInk } from './geometry/ink.js';
import { rasterize } from './geometry/rasterize.js';
import { LIMITS, documentSize } from '../limits.js';
import { Mask } from './mask.js';

const W = 40;
const H = 30;
const ORIGIN = 1_000_000;

/**
 * Return a drawing on an empty W x H mask, as the canvas wires it: finished strokes join
 * `strokes` (with their deltas in `deltas`), what is cut at a limit goes to `notices`. `held` points are already
 * in the document (a document near its limits), `view` is the stage's view.
 */
function setup({ held = 0, view = { zoom: 1, tx: 0, ty: 0 }, width = W, height = H } = {}) {
  const mask = new Mask(width, height);
  const strokes = [];
  const deltas = [];
  const notices = [];
  const size = () => {
    const own = documentSize(strokes);
    return { strokes: own.strokes, points: own.points + held };
  };
  const drawing = new Drawing({
    mask,
    origin: ORIGIN,
    view: () => view,
    size,
    onStroke: (stroke, delta) => {
      strokes.push(stroke);
      deltas.push(delta);
    },
    onLimit: (cut) => notices.push(cut),
  });
  return { drawing, mask, strokes, deltas, notices };
}

/** Draw through stage points [sx, sy], 10 ms apart, painting after each as the frames do. */
function draw(drawing, tool, width, samples) {
  const [first, ...rest] = samples;
  if (!drawing.begin(tool, width, first[0], first[1], ORIGIN, 0.5)) return false;
  rest.forEach(([sx, sy], k) => {
    drawing.add(sx, sy, ORIGIN + 10 * (k + 1), 0.5);
    drawing.paintNew();
  });
  drawing.end();
  return true;
}

describe('Drawing', () => {
  it('builds the stroke in image pixels through the view, with times from the annotation’s start', () => {
    const { drawing, strokes } = setup({ view: { zoom: 2, tx: 10, ty: 4 } });
    draw(drawing, 'brush', 3, [[14, 10], [30, 20]]);
    expect(strokes).toEqual([{ tool: 'brush', width: 3, points: [[2, 3, 0, 0.5], [10, 8, 10, 0.5]] }]);
  });

  it('paints exactly the stroke it hands on, and hands on the pixels it flipped', () => {
    const { drawing, mask, strokes, deltas } = setup();
    draw(drawing, 'brush', 5, [[3, 3], [20, 12], [35, 25]]);
    expect(Array.from(mask.mask)).toEqual(Array.from(rasterize(strokes, W, H)));
    mask.flip(deltas[0], 'undo');
    expect(mask.area).toBe(0);
  });

  it('drops samples within half a pixel of the last point, finer when zoomed in', () => {
    const near = [[5, 5], [5.3, 5], [5.6, 5], [6.2, 5]];
    const atOne = setup();
    draw(atOne.drawing, 'brush', 3, near);
    expect(atOne.strokes[0].points.map((p) => p[0])).toEqual([5, 5.6, 6.2]);
    // The same image points at 4x: a quarter of the spacing (half a screen pixel) keeps them all.
    const zoomed = setup({ view: { zoom: 4, tx: 0, ty: 0 } });
    draw(zoomed.drawing, 'brush', 3, near.map(([x, y]) => [x * 4, y * 4]));
    expect(zoomed.strokes[0].points.map((p) => p[0])).toEqual([5, 5.3, 5.6, 6.2]);
  });

  it('closes a lasso when the pointer lifts and drops an outline of fewer than three points', () => {
    const { drawing, mask, strokes } = setup();
    draw(drawing, 'lasso', 1, [[2, 2], [20, 2]]);
    expect(strokes).toEqual([]);
    expect(mask.area).toBe(0);
    expect(drawing.active).toBe(false);
    draw(drawing, 'lasso', 1, [[2, 2], [20, 2], [10, 20]]);
    expect(strokes).toHaveLength(1);
    expect(Array.from(mask.mask)).toEqual(Array.from(rasterize(strokes, W, H)));
  });

  it('shows a lasso as an outline until it closes, painting nothing before', () => {
    const { drawing, mask } = setup();
    drawing.begin('lasso-eraser', 1, 2, 2, ORIGIN, 0.5);
    drawing.add(20, 2, ORIGIN + 5, 0.5);
    drawing.paintNew();
    expect(drawing.outline).toEqual({ points: [[2, 2, 0, 0.5], [20, 2, 5, 0.5]], eraser: true });
    expect(mask.area).toBe(0);
  });

  it('cancels a stroke with every pixel it painted', () => {
    const { drawing, mask, strokes } = setup();
    drawing.begin('brush', 6, 5, 5, ORIGIN, 0.5);
    drawing.add(30, 20, ORIGIN + 10, 0.5);
    drawing.paintNew();
    expect(mask.area).toBeGreaterThan(0);
    drawing.cancel();
    expect(mask.area).toBe(0);
    expect(strokes).toEqual([]);
    expect(drawing.active).toBe(false);
  });

  it('goes on in a new stroke from the same point once a stroke holds the points one may', () => {
    const { drawing, mask, strokes, notices } = setup();
    const zigzag = Array.from({ length: LIMITS.maxPointsPerStroke + 1 }, (_, k) => [k % 2 ? 3 : 1, 5]);
    draw(drawing, 'brush', 2, zigzag);
    expect(strokes.map((s) => s.points.length)).toEqual([LIMITS.maxPointsPerStroke, 2]);
    expect(strokes[1].points[0]).toEqual(strokes[0].points.at(-1));
    expect(notices).toEqual([]);
    expect(Array.from(mask.mask)).toEqual(Array.from(rasterize(strokes, W, H)));
  });

  it('ends a stroke at the document’s point limit and says so', () => {
    const { drawing, strokes, notices } = setup({ held: LIMITS.maxPoints - 5 });
    draw(drawing, 'brush', 2, Array.from({ length: 9 }, (_, k) => [1 + 2 * k, 5]));
    expect(strokes.map((s) => s.points.length)).toEqual([5]);
    expect(notices).toEqual([null]); // the document's own notice, shown again
    expect(draw(drawing, 'brush', 2, [[1, 1]])).toBe(false); // no room for another
    expect(notices).toEqual([null, null]);
  });

  it('stops an outline at the document’s limit, says why once, and closes it when the pointer lifts', () => {
    const { drawing, strokes, notices } = setup({ held: LIMITS.maxPoints - 4 });
    draw(drawing, 'lasso', 1, [[2, 2], [30, 2], [30, 20], [2, 20], [10, 10], [12, 12]]);
    expect(strokes.map((s) => s.points.length)).toEqual([4]);
    expect(notices).toEqual([{ limit: 'document', size: { strokes: 1, points: LIMITS.maxPoints } }]);
  });

  it('stops an outline at the points one stroke may hold, saying which limit it met', () => {
    const { drawing, strokes, notices } = setup();
    const zigzag = Array.from({ length: LIMITS.maxPointsPerStroke + 5 }, (_, k) => [k % 2 ? 3 : 1, k % 3 ? 5 : 9]);
    draw(drawing, 'lasso', 1, zigzag);
    expect(strokes.map((s) => s.points.length)).toEqual([LIMITS.maxPointsPerStroke]);
    expect(notices.map((n) => n.limit)).toEqual(['stroke']);
  });

  it('goes on in a new stroke from the same point once a stroke holds the ink one save may paint', () => {
    // A 40 px brush up and down a 1,000-row image: each segment crosses 1,000 rows, and 400 of them the budget.
    const { drawing, mask, strokes, notices } = setup({ width: 60, height: 1000 });
    const zigzag = Array.from({ length: 1001 }, (_, k) => [10 + (k % 7), k % 2 ? 1000 : 0]);
    draw(drawing, 'brush', 40, zigzag);
    const inks = strokes.map((s) => strokeInk(s, 1000));
    expect(inks).toEqual([LIMITS.maxInk, LIMITS.maxInk, 200000]);
    expect(strokes.map((s) => s.points.length)).toEqual([401, 401, 201]);
    expect(strokes[1].points[0]).toEqual(strokes[0].points.at(-1));
    expect(strokes[2].points[0]).toEqual(strokes[1].points.at(-1));
    expect(notices).toEqual([]);
    expect(Array.from(mask.mask)).toEqual(Array.from(rasterize(strokes, 60, 1000)));
    const whole = { tool: 'brush', width: 40, points: zigzag.map(([x, y], k) => [x, y, 10 * k, 0.5]) };
    expect(Array.from(mask.mask)).toEqual(Array.from(rasterize([whole], 60, 1000)));
  });

  it('stops an outline at the ink one save may paint, says so, and closes it within the budget', () => {
    const { drawing, strokes, notices } = setup({ width: 60, height: 1000 });
    const zigzag = Array.from({ length: 600 }, (_, k) => [1 + (k % 50), k % 2 ? 1000 : 0]);
    draw(drawing, 'lasso', 1, zigzag);
    expect(strokes).toHaveLength(1);
    expect(strokeInk(strokes[0], 1000)).toBeLessThanOrEqual(LIMITS.maxInk);
    expect(strokes[0].points.length).toBeLessThan(600);
    expect(notices.map((n) => n.limit)).toEqual(['ink']);
  });

  it('remembers the oldest sample not yet painted, for the benchmark’s latency', () => {
    const { drawing } = setup();
    drawing.begin('brush', 2, 1, 1, ORIGIN, 0.5);
    expect(drawing.unpaintedSince).toBeNull();
    drawing.add(5, 5, ORIGIN + 7, 0.5);
    drawing.add(9, 9, ORIGIN + 9, 0.5);
    expect(drawing.unpaintedSince).toBe(ORIGIN + 7);
    drawing.paintNew();
    expect(drawing.unpaintedSince).toBeNull();
  });
});
