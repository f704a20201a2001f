import { describe, expect, it } from 'vitest';
import { fitView, imageToScreen, pinch, screenToImage, zoomAt } from './viewport.js';

describe('viewport', () => {
  it('maps screen to image and back', () => {
    const view = { zoom: 2.5, tx: 13, ty: -7 };
    const [x, y] = screenToImage(view, 100, 50);
    expect(imageToScreen(view, x, y)).toEqual([100, 50]);
  });

  it('fits a wide image to the stage, centred', () => {
    const view = fitView(400, 100, 832, 432, 16);
    expect(view.zoom).toBe(2);
    expect(view.tx).toBe(16);
    expect(view.ty).toBe(116);
  });

  it('keeps the point under the cursor fixed while zooming', () => {
    const view = { zoom: 1, tx: 0, ty: 0 };
    const zoomed = zoomAt(view, 4, 120, 80);
    expect(screenToImage(zoomed, 120, 80)).toEqual([120, 80]);
    expect(zoomed.zoom).toBe(4);
  });

  it('pans and zooms with two fingers around their midpoint', () => {
    const view = { zoom: 1, tx: 0, ty: 0 };
    const after = pinch(view, [0, 0], [100, 0], [10, 10], [210, 10]);
    expect(after.zoom).toBe(2);
    expect(screenToImage(after, 110, 10)).toEqual([50, 0]);
  });
});
