import { describe, expect, it } from 'vitest';
import { segmentInk, strokeInk } from './ink.js';
import { rasterize } from './rasterize.js';

const W = 40;
const H = 30;

/** A small deterministic random generator (mulberry32), so a failure can be replayed. */
function generator(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Return a random stroke of 1 to 6 points (a lasso 3 to 8), coordinates on quarter pixels around the image (as drawn). */
function randomStroke(random, tool) {
  const n = (tool === 'lasso' ? 3 : 1) + Math.floor(random() * 6);
  const coordinate = () => Math.round((random() * 60 - 10) * 4) / 4;
  const points = Array.from({ length: n }, (_, k) => [coordinate(), coordinate(), k, 0.5]);
  return { tool, width: (1 + Math.floor(random() * 24)) / 2, points };
}

describe('segmentInk', () => {
  it.each([
    ['a disc of radius 2 at y = 5 crosses rows 3 to 6', 5, 5, 2, 4],
    ['a segment from y = 5 to 15, radius 2, crosses rows 3 to 16', 5, 15, 2, 14],
    ['the same segment drawn upwards crosses the same rows', 15, 5, 2, 14],
    ['rows above the image do not count', -50, -40, 2, 0],
    ['rows below the image do not count: 28 and 29 only', 28, 100, 0, 2],
  ])('%s', (_, ay, by, r, ink) => {
    expect(segmentInk(ay, by, r, H)).toBe(ink);
  });
});

describe('a brush or eraser stroke cut at a point into two paints the same mask, pixel for pixel', () => {
  // canvas/drawing.js cuts a stroke that reaches the points or the ink one save may hold into two
  // sharing the point of the cut: with round caps and joins the union is the same. Checked here on
  // random strokes over random masks, at every point of the stroke.
  it.each(['brush', 'eraser'])('%s', (tool) => {
    const random = generator(tool === 'brush' ? 1 : 2);
    let cuts = 0;
    for (let example = 0; example < 150; example++) {
      const before = Array.from({ length: Math.floor(random() * 4) }, () => randomStroke(random, random() < 0.5 ? 'brush' : 'lasso'));
      const whole = randomStroke(random, tool);
      const expected = Array.from(rasterize([...before, whole], W, H));
      for (let k = 0; k < whole.points.length; k++) {
        const head = { ...whole, points: whole.points.slice(0, k + 1) };
        const tail = { ...whole, points: whole.points.slice(k) };
        expect(Array.from(rasterize([...before, head, tail], W, H))).toEqual(expected);
        if (k > 0 && k < whole.points.length - 1) expect(strokeInk(head, H) + strokeInk(tail, H)).toBe(strokeInk(whole, H));
        cuts++;
      }
    }
    expect(cuts).toBeGreaterThan(500);
  });
});
