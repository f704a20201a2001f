/**
 * Build the points of a stroke as the strokes document defines them: [x, y, t, p] in image
 * pixels, t in ms since the annotation was opened (non-decreasing), p the pen pressure 0..1.
 */

import { LIMITS } from '../../limits.js';

/**
 * Half a pixel: a new point closer than this to the stroke's last point adds nothing worth a
 * point of the server's budget (see minSpacing).
 */
export const SPACING_PX = 0.5;

/** Return the width clamped to what the server accepts, rounded to a quarter pixel. */
export function clampWidth(width) {
  const w = Math.round(Number(width) * 4) / 4;
  if (!Number.isFinite(w)) return LIMITS.minWidth;
  return Math.min(LIMITS.maxWidth, Math.max(LIMITS.minWidth, w));
}

/** Return the next brush size one step up or down ([ and ]): finer steps for small brushes. */
export function stepWidth(width, direction) {
  const step = width < 10 ? 1 : width < 40 ? 2 : width < 100 ? 5 : 10;
  return clampWidth(width + direction * step);
}

/**
 * Return a point for the document. Coordinates are kept within one image size beyond the
 * edges (the server's limit) and rounded to 1/1000 pixel so the JSON stays compact; the
 * rounded point is what is painted and what is stored, so both agree exactly.
 */
export function makePoint(x, y, t, p, imageWidth, imageHeight, lastT = 0) {
  const cx = Math.min(2 * imageWidth, Math.max(-imageWidth, x));
  const cy = Math.min(2 * imageHeight, Math.max(-imageHeight, y));
  const time = Math.max(lastT, Math.max(0, Math.round(t * 10) / 10));
  const pressure = Number.isFinite(p) ? Math.min(1, Math.max(0, Math.round(p * 1000) / 1000)) : 0.5;
  return [Math.round(cx * 1000) / 1000, Math.round(cy * 1000) / 1000, time, pressure];
}

/**
 * Return the distance, in image pixels, below which a new point is dropped at this zoom: half a
 * pixel of the image, or half a pixel of the screen once zoomed in further than 1:1.
 *
 * Pens and coalesced pointer events deliver 120-240 samples a second; when the hand moves
 * slowly or rests, most of them are a fraction of a pixel apart and would fill the server's
 * 250,000-point budget without changing the stroke. Every dropped sample lies within this
 * distance of a kept point, so the stroke never strays further than that from the hand. Points
 * are dropped before they are painted: the canvas draws the kept points only, so it shows
 * exactly the stored stroke and the server's mask.
 */
export function minSpacing(zoom) {
  return SPACING_PX / Math.max(1, zoom);
}

/**
 * Return what to do with `point` after the stroke's `points`: 'add' it; 'skip' it, since it lies
 * within `spacing` of the last point; or 'full' when the stroke already holds `cap` points.
 */
export function pointAction(points, point, spacing, cap) {
  const last = points[points.length - 1];
  if (last && Math.hypot(point[0] - last[0], point[1] - last[1]) < spacing) return 'skip';
  return points.length >= cap ? 'full' : 'add';
}
