import { describe, expect, it } from 'vitest';
import { clampWidth, makePoint, minSpacing, pointAction, stepWidth } from './strokePoints.js';

describe('makePoint', () => {
  it('rounds coordinates to a thousandth of a pixel, t to a tenth of a ms, p to a thousandth', () => {
    expect(makePoint(10.12345, 20.98765, 16.66, 0.50049, 100, 50)).toEqual([10.123, 20.988, 16.7, 0.5]);
  });

  it('keeps coordinates within one image size beyond the edges', () => {
    expect(makePoint(-500, 900, 0, 0.5, 100, 50).slice(0, 2)).toEqual([-100, 100]);
  });

  it('never lets t go back or below 0, and reads a missing pressure as 0.5', () => {
    expect(makePoint(0, 0, 5, NaN, 10, 10, 8)).toEqual([0, 0, 8, 0.5]);
    expect(makePoint(0, 0, -3, 2, 10, 10)).toEqual([0, 0, 0, 1]);
  });
});

describe('clampWidth and stepWidth', () => {
  it('keeps widths within what the server accepts, in quarter pixels', () => {
    expect([clampWidth(0.1), clampWidth(3.3), clampWidth(9999), clampWidth('x')]).toEqual([0.5, 3.25, 512, 0.5]);
    expect([stepWidth(5, 1), stepWidth(20, -1), stepWidth(510, 1)]).toEqual([6, 18, 512]);
  });
});

describe('minSpacing', () => {
  it.each([
    [0.25, 0.5], // zoomed out: half an image pixel (a quarter of a screen pixel)
    [1, 0.5],
    [4, 0.125], // zoomed in: half a screen pixel
    [64, 0.5 / 64],
  ])('at zoom %s drops points closer than %s image pixels', (zoom, spacing) => {
    expect(minSpacing(zoom)).toBe(spacing);
  });
});

describe('pointAction', () => {
  const points = [[10, 10, 0, 0.5]];

  it.each([
    ['the first point', [], [3, 4, 0, 0.5], 10, 'add'],
    ['a point on the last one', points, [10, 10, 5, 0.7], 10, 'skip'],
    ['a point closer than the spacing', points, [10.3, 10.39, 5, 0.5], 10, 'skip'],
    ['a point at the spacing', points, [10.3, 10.4, 5, 0.5], 10, 'add'],
    ['a point when the stroke is full', points, [20, 10, 5, 0.5], 1, 'full'],
    ['a point adding nothing to a full stroke', points, [10, 10, 5, 0.5], 1, 'skip'],
  ])('%s: %s', (_, before, point, cap, action) => {
    expect(pointAction(before, point, 0.5, cap)).toBe(action);
  });

  /** Run samples through pointAction as the canvas does; return the kept points. */
  function record(samples, spacing, cap = 20000) {
    const kept = [];
    for (const s of samples) if (pointAction(kept, s, spacing, cap) === 'add') kept.push(s);
    return kept;
  }

  // A pen at 240 Hz moving 30 px a second with 0.1 px of jitter, resting for a second midway.
  const slow = [];
  for (let k = 0; k < 960; k++) {
    const t = (k * 1000) / 240;
    const along = k < 360 ? k / 8 : k < 600 ? 45 : (k - 240) / 8;
    slow.push([100 + along + 0.1 * Math.sin(k * 1.7), 50 + 0.1 * Math.cos(k * 2.3), t, 0.5]);
  }

  it('keeps a slow, resting pen stroke to a fraction of its samples', () => {
    const kept = record(slow, minSpacing(1));
    expect(kept.length).toBeLessThan(slow.length / 3);
    expect(kept[0]).toBe(slow[0]);
  });

  it('drops only samples within the spacing of the point kept before them', () => {
    const spacing = minSpacing(2);
    const kept = record(slow, spacing);
    let last = null;
    for (const s of slow) {
      if (kept.includes(s)) last = s;
      else expect(Math.hypot(s[0] - last[0], s[1] - last[1])).toBeLessThan(spacing);
    }
  });

  it('keeps every sample of a stroke moving a pixel or more between samples', () => {
    const fast = Array.from({ length: 200 }, (_, k) => [k * 1.5, k * 0.5, k * 4, 0.5]);
    expect(record(fast, minSpacing(1))).toHaveLength(200);
  });

  it('never keeps more points than the cap', () => {
    const fast = Array.from({ length: 200 }, (_, k) => [k, 0, k, 0.5]);
    expect(record(fast, 0.5, 50)).toHaveLength(50);
  });
});
