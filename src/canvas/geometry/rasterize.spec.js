import { describe, expect, it } from 'vitest';
import golden from './fixtures/rasterize-golden.json';
import { maskRuns, polylineSpans, rasterize } from './rasterize.js';

function point(x, y) {
  return [x, y, 0, 0.5];
}

describe('rasterize matches the server bit for bit', () => {
  it.each(golden.cases.map((c) => [c.name, c]))('%s', (_name, c) => {
    const mask = rasterize(c.strokes, c.width, c.height);
    expect(maskRuns(mask)).toEqual(c.runs);
  });

  it('covers ties, lassos, erasers and off-edge strokes in its fixtures', () => {
    const tools = new Set(golden.cases.flatMap((c) => c.strokes.map((s) => s.tool)));
    expect([...tools].sort()).toEqual(['brush', 'eraser', 'lasso', 'lasso-eraser']);
    expect(golden.cases.length).toBeGreaterThan(300);
  });
});

describe('rasterize by hand', () => {
  it('paints a disc of width 3 as a plus of five pixels', () => {
    const mask = rasterize([{ tool: 'brush', width: 3, points: [point(2.5, 2.5)] }], 5, 5);
    // Centres at distance 1 (the four neighbours) are inside radius 1.5; diagonals (1.41) are too.
    expect(Array.from(mask)).toEqual([
      0, 0, 0, 0, 0,
      0, 1, 1, 1, 0,
      0, 1, 1, 1, 0,
      0, 1, 1, 1, 0,
      0, 0, 0, 0, 0,
    ]);
  });

  it('clears the pixels an eraser crosses and nothing else', () => {
    const brush = { tool: 'brush', width: 3, points: [point(0, 1.5), point(6, 1.5)] };
    const eraser = { tool: 'eraser', width: 1, points: [point(3.5, -1), point(3.5, 4)] };
    const mask = rasterize([brush, eraser], 6, 3);
    expect(Array.from(mask)).toEqual([1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1]);
  });

  it('paints nothing for a stroke entirely outside the image', () => {
    const mask = rasterize([{ tool: 'brush', width: 4, points: [point(-20, -20), point(-10, -5)] }], 8, 8);
    expect(mask.every((v) => v === 0)).toBe(true);
  });

  it('paints a growing stroke segment by segment exactly as the whole stroke', () => {
    const points = [point(1, 1), point(9.5, 3), point(4, 11.5), point(4, 11.5), point(12, 12)];
    const whole = rasterize([{ tool: 'brush', width: 2.5, points }], 14, 14);
    const growing = new Uint8Array(14 * 14);
    const paint = (row, start, end) => growing.fill(1, row * 14 + start, row * 14 + end + 1);
    for (let n = 1; n <= points.length; n++) {
      polylineSpans(points.slice(0, n), 1.25, 14, 14, paint, Math.max(n - 2, 0));
    }
    expect(Array.from(growing)).toEqual(Array.from(whole));
  });
});
