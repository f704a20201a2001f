import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { VIRIDIS, viridisGradient } from './palette.js';

describe('the heat maps’ colour scale', () => {
  it('has the same stops as the server draws with', () => {
    const python = readFileSync(new URL('../../backend/api/saliency.py', import.meta.url), 'utf8');
    const start = python.indexOf('VIRIDIS = np.array(');
    const block = python.slice(start, python.indexOf('dtype=', start));
    const stops = [...block.matchAll(/\[(\d+), (\d+), (\d+)\]/g)].map((m) => m.slice(1).map(Number));
    expect(stops).toEqual(VIRIDIS);
  });

  it('runs from dark purple at 0 to yellow at 1 in the legend', () => {
    const css = viridisGradient();
    expect(css.startsWith('linear-gradient(to right, rgb(68, 1, 84) 0.0%')).toBe(true);
    expect(css.endsWith('rgb(253, 231, 37) 100.0%)')).toBe(true);
  });
});
