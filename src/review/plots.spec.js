import { describe, expect, it } from 'vitest';
import { binValues, evenEdges, linearScale, niceTicks } from './plots.js';

describe('binValues', () => {
  const edges = evenEdges(0, 1, 10);

  it('counts each value in the bin [edge, next edge), the last bin closed, as NumPy does', () => {
    expect(binValues([0, 0.05, 0.1, 0.95, 1], edges)).toEqual([2, 1, 0, 0, 0, 0, 0, 0, 0, 2]);
  });

  it('leaves out nulls, NaN and values outside the edges', () => {
    expect(binValues([null, undefined, NaN, -0.1, 1.01, 0.5], edges)).toEqual([0, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
  });

  it('agrees with the server’s 10-bin IoU histogram on its edges', () => {
    const server = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1];
    expect(binValues([0.3, 0.3, 0.7, 0.99999], server)).toEqual([0, 0, 0, 2, 0, 0, 0, 1, 0, 1]);
  });

  it('counts every value exactly once whatever the bins', () => {
    const values = Array.from({ length: 500 }, (_, i) => (i * 7919) % 1000 / 999);
    for (const bins of [1, 3, 7, 10, 20]) {
      const counts = binValues(values, evenEdges(0, 1, bins));
      expect(counts.reduce((a, b) => a + b, 0)).toBe(values.length);
    }
  });
});

describe('niceTicks', () => {
  it.each([
    [0, 1, 5, [0, 0.2, 0.4, 0.6, 0.8, 1]],
    [0, 47000, 4, [0, 20000, 40000, 60000]],
    [3, 3, 4, [1, 2, 3, 4, 5]],
    [12, 88, 4, [0, 20, 40, 60, 80, 100]],
  ])('covers [%d, %d] with about %d round ticks', (lo, hi, count, expected) => {
    expect(niceTicks(lo, hi, count)).toEqual(expected);
  });

  it('always starts at or below the low end and ends at or above the high end', () => {
    for (const [lo, hi] of [[0.13, 0.91], [250, 113000], [-4, 17], [0, 0.003]]) {
      const ticks = niceTicks(lo, hi, 5);
      expect(ticks[0]).toBeLessThanOrEqual(lo);
      expect(ticks[ticks.length - 1]).toBeGreaterThanOrEqual(hi);
    }
  });
});

describe('linearScale', () => {
  it('maps the domain onto the range, reversed ranges included (SVG y grows down)', () => {
    const y = linearScale(0, 1, 200, 20);
    expect(y(0)).toBe(200);
    expect(y(1)).toBe(20);
    expect(y(0.5)).toBe(110);
  });
});
