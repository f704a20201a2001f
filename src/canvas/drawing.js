/**
 * The stroke being drawn, from pointer samples to a finished stroke of the document.
 *
 * Samples arrive in stage coordinates (CSS pixels, as ./input.js gives them) and become points
 * in image pixels through the current view. A sample within a fraction of a pixel of the last
 * point is dropped (minSpacing), and a stroke holds at most what the server accepts and what
 * the document has room for: a brush or eraser stroke that reaches the points one stroke may
 * hold, or the ink one save may paint (LIMITS.maxInk, see geometry/ink.js), goes on in a new
 * stroke from the same point (round caps and joins: the two paint exactly the pixels one stroke
 * would), an outline (lasso) stops and closes when the pointer lifts. Brush segments are painted
 * into the mask as they come (once a frame, by `paintNew`), so the canvas shows exactly the
 * stroke that is stored.
 *
 * A finished stroke is handed on once, with the pixels it flipped, to `onStroke(stroke, delta)`.
 * A stroke refused or cut at a limit is reported to `onLimit(cut)`: null when no stroke fits
 * (the document's own limit notice applies), or {limit: 'document' | 'stroke', size} when an
 * outline stops: {limit: 'ink'} when it crosses as many image rows as one save may paint
 * (see limitNotice.js's outlineCutNotice). Nothing here touches the DOM or the
 * store, or words what the annotator is told.
 */

import { segmentInk } from './geometry/ink.js';
import { makePoint, minSpacing, pointAction } from './geometry/strokePoints.js';
import { screenToImage } from './geometry/viewport.js';
import { LIMITS, canStartStroke, fitsInDocument, roomLeft } from '../limits.js';

export class Drawing {
  /**
   * mask: the open document's Mask; origin: when the annotation was started (epoch ms; a point's
   * t counts from it); view(): the stage's {zoom, tx, ty}; size(): the {strokes, points} the
   * document holds now; onStroke(stroke, delta) and onLimit(cut | null) as above.
   */
  constructor({ mask, origin, view, size, onStroke, onLimit }) {
    Object.assign(this, { mask, origin, view, size, onStroke, onLimit });
    this.live = null; // the LiveStroke being drawn, or null
    this.unpaintedSince = null; // time of the oldest sample not yet painted (benchmarks read it)
  }

  get active() {
    return this.live !== null;
  }

  /** The outline of a lasso being drawn, for the overlay: {points, eraser}, or null. */
  get outline() {
    return this.live && this.live.isLasso ? { points: this.live.points, eraser: this.live.tool === 'lasso-eraser' } : null;
  }

  /** Start a stroke at a sample; return false (and say why) when the document has no room for one. */
  begin(tool, width, sx, sy, t, p) {
    this.live = this._start(tool, width);
    this.unpaintedSince = null;
    if (!this.live) {
      this.onLimit(null); // the document is at a limit: say so where the annotator is looking
      return false;
    }
    this._addPoint(sx, sy, t, p);
    return true;
  }

  /** Add a sample to the stroke in progress (none, or one ended at a limit until the pointer lifts: nothing). */
  add(sx, sy, t, p) {
    if (!this.live) return;
    if (this.unpaintedSince === null) this.unpaintedSince = t;
    if (this._addPoint(sx, sy, t, p) === 'full') {
      this._strokeFull();
      if (this.live && !this.live.isLasso) this._addPoint(sx, sy, t, p); // the sample that did not fit starts the next stroke
    }
  }

  /** Paint the segments added since the last call (a lasso is painted when it closes). */
  paintNew() {
    if (this.live) this.live.paintNew();
    this.unpaintedSince = null;
  }

  /** Finish the stroke (the pointer lifted) and hand it on; an outline of fewer than 3 points is dropped. */
  end() {
    const live = this.live;
    if (!live) return;
    this.live = null;
    if (live.isLasso && live.points.length < 3) {
      live.cancel();
      return;
    }
    const stroke = live.finish();
    if (!fitsInDocument(this.size(), stroke)) {
      // Never happens while _start's cap holds; if it did, the server would refuse every save.
      live.cancel();
      this.onLimit(null);
      return;
    }
    this.onStroke(stroke, live.delta);
  }

  /** Drop the stroke in progress and its pixels (a second finger arrived, the pointer was cancelled). */
  cancel() {
    if (!this.live) return;
    this.live.cancel();
    this.live = null;
  }

  /** Return a new stroke holding at most what the document has room for, or null if it has none. */
  _start(tool, width) {
    const size = this.size();
    if (!canStartStroke(size)) return null;
    const live = this.mask.beginStroke(tool, width);
    live.cap = Math.min(LIMITS.maxPointsPerStroke, roomLeft(size).points);
    live.openInk = 0; // the ink of the segments (a lasso's edges but the closing one) between its points
    live.fullOfInk = false;
    return live;
  }

  /**
   * Add a sample unless it lies within a fraction of a pixel of the last point (it would add
   * nothing) or the stroke is full. Only kept points are painted, so the canvas shows exactly
   * the stroke that is stored. Return 'add', 'skip' or 'full'.
   */
  _addPoint(sx, sy, t, p) {
    const live = this.live;
    const view = this.view();
    const [x, y] = screenToImage(view, sx, sy);
    const last = live.points.length ? live.points[live.points.length - 1][2] : 0;
    const point = makePoint(x, y, t - this.origin, p, this.mask.width, this.mask.height, last);
    const action = pointAction(live.points, point, minSpacing(view.zoom), live.cap);
    if (action !== 'add') return action;
    if (live.fullOfInk) return 'full'; // an outline that met the budget stops there, whatever comes next
    const [segment, ink] = this._inkWith(point);
    if (ink > LIMITS.maxInk && live.points.length) {
      live.fullOfInk = true;
      return 'full';
    }
    live.points.push(point);
    live.openInk += segment;
    return action;
  }

  /**
   * Return [the ink of the segment to `point`, the stroke's ink with `point` added], as the server
   * counts it: a brush's segments (a lone point, its disc); a lasso's edges, the closing one too.
   */
  _inkWith(point) {
    const { points, isLasso, width, openInk } = this.live;
    const height = this.mask.height;
    const y = point[1];
    const first = points.length ? points[0][1] : y;
    const last = points.length ? points[points.length - 1][1] : y;
    if (isLasso) {
      const segment = points.length ? segmentInk(last, y, 0, height) : 0;
      return [segment, openInk + segment + segmentInk(y, first, 0, height)];
    }
    if (!points.length) return [0, segmentInk(y, y, width / 2, height)];
    const segment = segmentInk(last, y, width / 2, height);
    return [segment, openInk + segment];
  }

  /** A stroke reached the points or the ink it may hold: go on in a new stroke if the document has room, else end it here. */
  _strokeFull() {
    const live = this.live;
    if (live.isLasso) {
      // An outline cannot go on in another stroke: it closes as it is when the pointer lifts.
      if (!live.cutShown) {
        live.cutShown = true;
        const size = this.size();
        const withOutline = { strokes: size.strokes + 1, points: size.points + live.points.length };
        const limit = live.fullOfInk ? 'ink' : live.cap < LIMITS.maxPointsPerStroke ? 'document' : 'stroke';
        this.onLimit({ limit, size: withOutline });
      }
      return;
    }
    const lastPoint = live.points[live.points.length - 1];
    this.end();
    // The server takes 20,000 points a stroke, and paints 400,000 units of ink a save: go on from
    // the same point in a new stroke, which paints the same pixels as one longer stroke would
    // (geometry/ink.spec.js checks it against the rasterizer). The first point repeats the last one.
    this.live = this._start(live.tool, live.width);
    if (this.live) this.live.points.push(lastPoint.slice());
    else this.onLimit(null); // the document is full: the stroke ends here, and the message says why
  }
}
