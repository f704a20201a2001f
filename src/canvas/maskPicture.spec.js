import { describe, expect, it } from 'vitest';
import { rasterize } from './geometry/rasterize.js';
import { maskPixels } from './maskPicture.js';

describe('maskPixels', () => {
  it('paints the set pixels in the colour and leaves the others transparent', () => {
    const pixels = maskPixels(new Uint8Array([1, 0, 1]), [10, 20, 30, 40]);
    expect([...pixels]).toEqual([10, 20, 30, 40, 0, 0, 0, 0, 10, 20, 30, 40]);
  });

  it('shows a stroke document where its mask is, erasers included', () => {
    const strokes = [
      { tool: 'brush', width: 3, points: [[1, 1, 0, 0.5], [6, 1, 10, 0.5]] },
      { tool: 'eraser', width: 1, points: [[3.5, 1.5, 20, 0.5]] }, // the centre of pixel (3, 1)
    ];
    const mask = rasterize(strokes, 8, 3);
    const pixels = maskPixels(mask, [255, 0, 0, 255]);
    const alpha = (x, y) => pixels[(y * 8 + x) * 4 + 3];
    expect(alpha(1, 1)).toBe(255);
    expect(alpha(3, 1)).toBe(0); // erased
    expect(alpha(7, 2)).toBe(0);
  });
});
