/**
 * The mask of the open annotation (one byte a pixel), painted span by span, with a record of
 * every pixel each change flipped (a MaskDelta) and of the tiles that need repainting.
 *
 * The strokes are the truth; this is what they paint. It is rasterized in full once, when a
 * document is loaded; after that every change is painted as it happens (a stroke segment by
 * segment while it is drawn, a clear at once) and its delta is kept, so undo and redo
 * (./history.js) flip exactly those pixels back or again, in time proportional to the pixels
 * changed, never to the number of strokes.
 */

import { LASSOS, SETS, polygonSpans, polylineSpans, rasterize, strokeSpans } from './geometry/rasterize.js';

/** The runs of pixels (row-major indices) one change flipped to `value`. */
export class MaskDelta {
  constructor(value) {
    this.value = value;
    this.runs = new Int32Array(64);
    this.length = 0;
  }

  push(start, count) {
    const n = this.length;
    if (n > 0 && this.runs[n - 2] + this.runs[n - 1] === start) {
      this.runs[n - 1] += count; // extends the previous run
      return;
    }
    if (n + 2 > this.runs.length) {
      const grown = new Int32Array(this.runs.length * 2);
      grown.set(this.runs);
      this.runs = grown;
    }
    this.runs[n] = start;
    this.runs[n + 1] = count;
    this.length = n + 2;
  }

  /** Return the bytes this delta holds (for tests and benchmarks). */
  get bytes() {
    return this.length * 4;
  }
}

/**
 * Changed pixels are tracked by tiles of TILE x TILE: a long diagonal stroke touches a thin
 * band of tiles, where one bounding rectangle would cover most of the image and cost a
 * repaint of millions of pixels.
 */
export const TILE = 64;

export class Mask {
  /** Start with the mask of `strokes` (what was loaded). */
  constructor(width, height, strokes = []) {
    this.width = width;
    this.height = height;
    this.tilesX = Math.ceil(width / TILE);
    this.dirtyTiles = new Uint8Array(this.tilesX * Math.ceil(height / TILE));
    this.dirtyList = [];
    this.allDirty = false;
    this.area = 0;
    this.loadMs = 0; // how long the full rasterization took (the benchmark reads it)
    this.load(strokes);
  }

  /** Rebuild the mask from the strokes; everything is dirty. */
  load(strokes) {
    const started = performance.now();
    this.mask = rasterize(strokes, this.width, this.height);
    let area = 0;
    for (let i = 0; i < this.mask.length; i++) area += this.mask[i];
    this.area = area;
    this.allDirty = true;
    this.loadMs = performance.now() - started;
  }

  /** Note that pixels x0..x1 of `row` changed. */
  _touch(row, x0, x1) {
    const base = (row >> 6) * this.tilesX; // TILE = 64 = 1 << 6
    for (let tx = x0 >> 6; tx <= x1 >> 6; tx++) {
      if (!this.dirtyTiles[base + tx]) {
        this.dirtyTiles[base + tx] = 1;
        this.dirtyList.push(base + tx);
      }
    }
  }

  /**
   * Return and forget what changed since the last call: a list of inclusive pixel rectangles
   * (each a horizontal run of dirty tiles), or null when nothing changed.
   */
  takeDirty() {
    if (this.allDirty) {
      this.allDirty = false;
      for (const i of this.dirtyList) this.dirtyTiles[i] = 0;
      this.dirtyList = [];
      return [{ x0: 0, y0: 0, x1: this.width - 1, y1: this.height - 1 }];
    }
    if (!this.dirtyList.length) return null;
    const tiles = this.dirtyList.sort((a, b) => a - b);
    const rects = [];
    let k = 0;
    while (k < tiles.length) {
      const first = tiles[k];
      let last = first;
      const ty = Math.floor(first / this.tilesX);
      while (k + 1 < tiles.length && tiles[k + 1] === last + 1 && Math.floor(tiles[k + 1] / this.tilesX) === ty) last = tiles[++k];
      k++;
      const tx0 = first - ty * this.tilesX;
      const tx1 = last - ty * this.tilesX;
      rects.push({
        x0: tx0 * TILE,
        y0: ty * TILE,
        x1: Math.min(this.width - 1, tx1 * TILE + TILE - 1),
        y1: Math.min(this.height - 1, ty * TILE + TILE - 1),
      });
    }
    for (const i of tiles) this.dirtyTiles[i] = 0;
    this.dirtyList = [];
    return rects;
  }

  /** Set (or clear) the span's pixels, recording the ones that flipped in `delta`. */
  _paintSpan(row, start, end, delta) {
    const { mask } = this;
    const value = delta.value;
    const base = row * this.width;
    let i = base + start;
    const stop = base + end;
    let flipped = 0;
    while (i <= stop) {
      if (mask[i] === value) {
        i++;
        continue;
      }
      const runStart = i;
      while (i <= stop && mask[i] !== value) mask[i++] = value;
      delta.push(runStart, i - runStart);
      flipped += i - runStart;
    }
    if (flipped) {
      this.area += value ? flipped : -flipped;
      this._touch(row, start, end);
    }
  }

  /** Start painting a stroke as it is drawn; see LiveStroke. */
  beginStroke(tool, width) {
    return new LiveStroke(this, tool, width);
  }

  /** Paint a whole stroke at once and return the pixels it flipped. */
  paintStroke(stroke) {
    const delta = new MaskDelta(SETS[stroke.tool] ? 1 : 0);
    strokeSpans(stroke, this.width, this.height, (row, start, end) => this._paintSpan(row, start, end, delta));
    return delta;
  }

  /** Clear every set pixel and return the pixels cleared. */
  clearAll() {
    const delta = new MaskDelta(0);
    const { width, height } = this;
    for (let row = 0; row < height; row++) {
      const base = row * width;
      let start = -1;
      for (let x = 0; x <= width; x++) {
        const set = x < width && this.mask[base + x] === 1;
        if (set && start < 0) start = x;
        else if (!set && start >= 0) {
          this._paintSpan(row, start, x - 1, delta);
          start = -1;
        }
      }
    }
    return delta;
  }

  /** Flip the pixels of `delta` back ('undo') or again ('redo'). */
  flip(delta, direction) {
    const value = direction === 'undo' ? 1 - delta.value : delta.value;
    const { runs, length } = delta;
    const { mask, width } = this;
    let total = 0;
    for (let k = 0; k < length; k += 2) {
      let start = runs[k];
      let count = runs[k + 1];
      mask.fill(value, start, start + count);
      total += count;
      // Runs may continue onto the next row (they are merged when contiguous in memory).
      while (count > 0) {
        const row = (start / width) | 0;
        const col = start - row * width;
        const n = Math.min(count, width - col);
        this._touch(row, col, col + n - 1);
        start += n;
        count -= n;
      }
    }
    this.area += value ? total : -total;
  }
}

/**
 * A stroke being painted as it is drawn: its points are a plain array (never reactive state),
 * and each new segment is painted into the mask at once, so the canvas shows exactly what will
 * be stored, eraser included. A lasso paints only when closed. `cancel()` flips its pixels back.
 */
export class LiveStroke {
  constructor(mask, tool, width) {
    this.mask = mask;
    this.tool = tool;
    this.width = width;
    this.points = [];
    this.delta = new MaskDelta(SETS[tool] ? 1 : 0);
    this.painted = 0; // points whose segments are painted
  }

  get isLasso() {
    return LASSOS.has(this.tool);
  }

  /** Paint the segments added since the last call. */
  paintNew() {
    if (this.isLasso || this.points.length === this.painted) return;
    const m = this.mask;
    const from = Math.max(this.painted - 1, 0);
    polylineSpans(this.points, this.width / 2, m.width, m.height, (row, start, end) => m._paintSpan(row, start, end, this.delta), from);
    this.painted = this.points.length;
  }

  /** Finish: paint what is left (a lasso's inside) and return the stroke for the document. */
  finish() {
    const m = this.mask;
    if (this.isLasso) {
      polygonSpans(this.points, m.width, m.height, (row, start, end) => m._paintSpan(row, start, end, this.delta));
    } else this.paintNew();
    return { tool: this.tool, width: this.width, points: this.points };
  }

  /** Undo whatever this stroke painted (a second finger arrived, Escape, a refused stroke). */
  cancel() {
    this.mask.flip(this.delta, 'undo');
  }
}
