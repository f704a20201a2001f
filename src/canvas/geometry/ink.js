/**
 * The ink of strokes: the work of painting them, as the server counts it (backend/api/strokes.py,
 * `ink`) to bound what one save may paint (LIMITS.maxInk). A brush or eraser segment costs the
 * image rows its capsule crosses (its height plus the width); a lasso edge, the rows it crosses.
 */

import { LASSOS } from './rasterize.js';

/** Return the image rows (0 to height - 1) a segment from y = ay to y = by, widened by r, crosses. */
export function segmentInk(ay, by, r, height) {
  const first = Math.max(Math.ceil(Math.min(ay, by) - r - 0.5), 0);
  const last = Math.min(Math.floor(Math.max(ay, by) + r - 0.5), height - 1);
  return Math.max(last - first + 1, 0);
}

/** Return the ink of a stroke on an image `height` rows high (a lasso's closing edge included). */
export function strokeInk(stroke, height) {
  const points = stroke.points;
  const n = points.length;
  if (LASSOS.has(stroke.tool)) {
    let total = 0;
    for (let k = 0; k < n; k++) total += segmentInk(points[k][1], points[(k + 1) % n][1], 0, height);
    return total;
  }
  const r = stroke.width / 2;
  if (n === 1) return segmentInk(points[0][1], points[0][1], r, height);
  let total = 0;
  for (let k = 0; k + 1 < n; k++) total += segmentInk(points[k][1], points[k + 1][1], r, height);
  return total;
}
