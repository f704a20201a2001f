/**
 * A stroke document as a picture: its mask rasterized exactly as the server does
 * (./geometry/rasterize.js) and painted in one colour, for showing two versions side by side
 * (the conflict dialog) over their image.
 */

import { rasterize } from './geometry/rasterize.js';

/** Return RGBA pixels (width * height * 4) of the mask: `rgba` where it is set, transparent elsewhere. */
export function maskPixels(mask, rgba) {
  const pixels = new Uint8ClampedArray(mask.length * 4);
  for (let i = 0; i < mask.length; i++) {
    if (mask[i]) pixels.set(rgba, i * 4);
  }
  return pixels;
}

/** Paint the strokes' mask on `canvas` (sized to the image: the page scales it); return the mask's area in pixels. */
export function paintMaskPicture(canvas, strokes, width, height, rgba = [255, 38, 116, 190]) {
  const mask = rasterize(strokes, width, height);
  canvas.width = width;
  canvas.height = height;
  canvas.getContext('2d').putImageData(new ImageData(maskPixels(mask, rgba), width, height), 0, 0);
  let area = 0;
  for (let i = 0; i < mask.length; i++) area += mask[i];
  return area;
}
