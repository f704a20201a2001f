/**
 * Build the points of a stroke as the strokes document defines them: [x, y, t, p] in image
 * pixels, t in ms since the annotation was opened (non-decreasing), p the pen pressure 0..1.
 */

export const LIMITS = Object.freeze({
  minWidth: 0.5,
  maxWidth: 512,
  maxPointsPerStroke: 20000,
  maxPoints: 250000,
  maxStrokes: 5000,
});

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

/** Return how many points the strokes hold in all. */
export function countPoints(strokes) {
  let n = 0;
  for (const stroke of strokes) n += stroke.points.length;
  return n;
}
