/**
 * Replay an annotation's strokes in time: the mask as it stood at any moment, painted with
 * the same arithmetic as the stored mask (./geometry/rasterize.js), so the replay's last
 * frame is exactly the stored mask.
 *
 * Strokes are painted in the document's order (the mask is defined by that order). Each point
 * gets a replay time from its `t`: non-decreasing along the document (a stroke never starts
 * before the one painted before it, even if a device's clock said so), with pauses longer
 * than `maxGapMs` shortened to `maxGapMs` (an annotator who left for lunch mid-image should
 * not make the replay wait an hour). Pure: no DOM.
 */

import { LASSOS, SETS, polygonSpans, polylineSpans } from './geometry/rasterize.js';

/**
 * Return the replay schedule of the strokes: `times[k][i]` is when point i of stroke k is
 * reached (ms from the replay's start), `realTimes` the same points' own `t` (for display),
 * `duration` the time of the last point.
 */
export function replaySchedule(strokes, { maxGapMs = Infinity } = {}) {
  const times = [];
  let replay = 0;
  let previousT = 0;
  for (const stroke of strokes) {
    const points = stroke.points || [];
    const strokeTimes = new Float64Array(points.length);
    for (let i = 0; i < points.length; i++) {
      const t = Number(points[i][2]) || 0;
      const gap = Math.max(t - previousT, 0);
      replay += Math.min(gap, maxGapMs);
      previousT = Math.max(previousT, t);
      strokeTimes[i] = replay;
    }
    times.push(strokeTimes);
  }
  return { times, duration: replay };
}

/** Return how many of the sorted `times` are at or before `time` (a binary search). */
export function countReached(times, time) {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (times[mid] <= time) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The mask of one annotation at a moment of its replay. `seek(time)` moves there and returns
 * the rectangle of pixels that may have changed ({x0, y0, x1, y1}, inclusive) or null;
 * going back repaints from the start. A brush or eraser stroke appears point by point; a
 * lasso is filled when its outline closes (its last point), as it was when drawn.
 */
export class MaskReplayer {
  constructor(strokes, width, height, { maxGapMs = Infinity } = {}) {
    this.strokes = strokes;
    this.width = width;
    this.height = height;
    this.schedule = replaySchedule(strokes, { maxGapMs });
    this.duration = this.schedule.duration;
    this.mask = new Uint8Array(width * height);
    this.time = -Infinity;
    this.stroke = 0; // the first stroke not painted completely
    this.reached = 0; // how many of its points are painted (brush and eraser only)
  }

  /** Move the replay to `time`; return the changed rectangle, or null if nothing changed. */
  seek(time) {
    let dirty = null;
    if (time < this.time) {
      this.mask.fill(0);
      this.stroke = 0;
      this.reached = 0;
      dirty = { x0: 0, y0: 0, x1: this.width - 1, y1: this.height - 1 };
    }
    this.time = time;
    const grow = (row, start, end) => {
      if (!dirty) dirty = { x0: start, y0: row, x1: end, y1: row };
      else {
        if (start < dirty.x0) dirty.x0 = start;
        if (end > dirty.x1) dirty.x1 = end;
        if (row < dirty.y0) dirty.y0 = row;
        if (row > dirty.y1) dirty.y1 = row;
      }
    };
    const { width, height, mask } = this;
    while (this.stroke < this.strokes.length) {
      const stroke = this.strokes[this.stroke];
      const times = this.schedule.times[this.stroke];
      const count = countReached(times, time);
      const value = SETS[stroke.tool] ? 1 : 0;
      const paint = (row, start, end) => {
        mask.fill(value, row * width + start, row * width + end + 1);
        grow(row, start, end);
      };
      if (LASSOS.has(stroke.tool)) {
        if (count < times.length) break; // not closed yet: its outline is shown, not its fill
        polygonSpans(stroke.points, width, height, paint);
      } else if (count > this.reached) {
        const points = count === times.length ? stroke.points : stroke.points.slice(0, count);
        // A one-point prefix is a disc; after that, only the segments not painted yet.
        polylineSpans(points, stroke.width / 2.0, width, height, paint, Math.max(this.reached - 1, 0));
        this.reached = count;
      }
      if (count < times.length) break;
      this.stroke += 1;
      this.reached = 0;
    }
    return dirty;
  }

  /**
   * Return the stroke being drawn at the current time as {tool, width, points} (the points
   * reached so far), or null between strokes and after the last.
   */
  current() {
    if (this.stroke >= this.strokes.length) return null;
    const times = this.schedule.times[this.stroke];
    const count = countReached(times, this.time);
    if (count === 0) return null;
    const stroke = this.strokes[this.stroke];
    return { tool: stroke.tool, width: stroke.width, points: stroke.points.slice(0, count) };
  }

  /** Return whether every stroke is painted (the mask is the stored one). */
  get finished() {
    return this.stroke >= this.strokes.length;
  }
}
