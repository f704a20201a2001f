/**
 * What the server accepts in one annotation (docs/strokes.md, "Limits"), and whether a document
 * has room for more. Numbers and checks only, with no imports: pure geometry and the store use
 * them; what the annotator is told about them is ./limitNotice.js.
 *
 * The API does not publish its limits, so they are mirrored here, in this one place; every
 * other module imports them from here. `limits.spec.js` reads the backend's own constants
 * (`backend/api/strokes.py`, `serializers.py`, `settings.py`) and the manual's Limits table
 * (`docs/strokes.md`), so a change on either side fails the unit tests until this file follows.
 */

export const LIMITS = Object.freeze({
  maxStrokes: 5000,
  maxPointsPerStroke: 20000,
  maxPoints: 250000,
  minWidth: 0.5,
  maxWidth: 512,
  maxTextLength: 10000,
  maxBodyBytes: 16 * 1024 * 1024,
  maxTMs: 10 * 365 * 24 * 3600 * 1000,
  maxInk: 400000,
});

/** Points a stroke needs at the least: a brush or eraser stroke is one point (a disc), a lasso three. */
export const MIN_POINTS = Object.freeze({ brush: 1, eraser: 1, lasso: 3, 'lasso-eraser': 3 });

/** Share of a limit from which the annotator is told they are getting close. */
export const NEAR_SHARE = 0.9;

/** Return how many strokes and points in all `strokes` hold. */
export function documentSize(strokes) {
  let points = 0;
  for (const stroke of strokes) points += stroke.points.length;
  return { strokes: strokes.length, points };
}

/** Return how many more strokes and points a document of this size may take (never negative). */
export function roomLeft(size) {
  return { strokes: Math.max(0, LIMITS.maxStrokes - size.strokes), points: Math.max(0, LIMITS.maxPoints - size.points) };
}

/**
 * Return whether a new stroke may start on a document of this size: room for one more stroke
 * and for the points of the smallest lasso. The same rule for every tool, so "full" means one
 * thing: a brush is not left a point or two that a lasso could not use.
 */
export function canStartStroke(size) {
  const room = roomLeft(size);
  return room.strokes >= 1 && room.points >= MIN_POINTS.lasso;
}

/** Return whether adding `stroke` keeps a document of this size within every count limit. */
export function fitsInDocument(size, stroke) {
  const n = stroke.points.length;
  return n >= (MIN_POINTS[stroke.tool] || 1) && n <= LIMITS.maxPointsPerStroke && size.strokes + 1 <= LIMITS.maxStrokes && size.points + n <= LIMITS.maxPoints;
}
