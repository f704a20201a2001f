/**
 * Rasterize strokes into a mask exactly as the server does (backend/api/strokes.py).
 *
 * The mask is painted row by row on pixel centres (i + 0.5, j + 0.5): a brush or eraser
 * segment covers, on each row, the x interval of its capsule (two end discs and the band
 * between them); a lasso covers the spans between pairs of edge crossings (even-odd rule,
 * half-open in y). Every expression below mirrors the reference's NumPy code, operation by
 * operation and in the same order, in IEEE doubles, so both produce the same mask bit for
 * bit, ties included (golden fixtures in ./fixtures check it).
 *
 * Spans are handed to a callback `span(row, start, end)` (inclusive columns, clipped to the
 * image) so callers can paint, record undo deltas and track dirty rectangles in one pass.
 */

/** Tools that set pixels (the others clear them). */
export const SETS = { brush: true, eraser: false, lasso: true, 'lasso-eraser': false };
export const LASSOS = new Set(['lasso', 'lasso-eraser']);

/**
 * Emit the spans of the capsule of radius r around the segment a-b (a disc when a = b).
 * Mirrors _polyline_spans for one segment. One function, longer than most: it is the inner
 * loop of drawing (every row of every segment), and it follows the reference's expressions in
 * their order; helpers returning an interval per row would allocate there.
 */
export function segmentSpans(ax, ay, bx, by, r, width, height, span) {
  const lo = Math.min(ay, by) - r;
  const hi = Math.max(ay, by) + r;
  const first = Math.max(Math.ceil(lo - 0.5), 0);
  const last = Math.min(Math.floor(hi - 0.5), height - 1);
  if (first > last) return;
  const r2 = r * r;
  const dx = bx - ax;
  const dy = by - ay;
  const length2 = dx * dx + dy * dy;
  const length = Math.sqrt(length2);
  const rl = r * length;
  for (let row = first; row <= last; row++) {
    const yc = row + 0.5;
    let left = Infinity;
    let right = -Infinity;
    // The two end discs.
    let ddy = yc - ay;
    if (ddy * ddy <= r2) {
      const half = Math.sqrt(r2 - ddy * ddy);
      left = Math.min(left, ax - half);
      right = Math.max(right, ax + half);
    }
    ddy = yc - by;
    if (ddy * ddy <= r2) {
      const half = Math.sqrt(r2 - ddy * ddy);
      left = Math.min(left, bx - half);
      right = Math.max(right, bx + half);
    }
    // The band: projection onto the segment within [0, L^2] and distance to its line <= r.
    if (length2 > 0) {
      const c = (yc - ay) * dy;
      let pLo;
      let pHi;
      if (dx === 0) {
        const pAll = c >= 0 && c <= length2;
        pLo = pAll ? -Infinity : Infinity;
        pHi = pAll ? Infinity : -Infinity;
      } else if (dx > 0) {
        pLo = ax + (0.0 - c) / dx;
        pHi = ax + (length2 - c) / dx;
      } else {
        pLo = ax + (length2 - c) / dx;
        pHi = ax + (0.0 - c) / dx;
      }
      const e = (yc - ay) * dx;
      let dLo;
      let dHi;
      if (dy === 0) {
        const dAll = Math.abs(e) <= rl;
        dLo = dAll ? -Infinity : Infinity;
        dHi = dAll ? Infinity : -Infinity;
      } else if (dy > 0) {
        dLo = ax + (e - rl) / dy;
        dHi = ax + (e + rl) / dy;
      } else {
        dLo = ax + (e + rl) / dy;
        dHi = ax + (e - rl) / dy;
      }
      const bandLo = Math.max(pLo, dLo);
      const bandHi = Math.min(pHi, dHi);
      if (bandLo <= bandHi) {
        left = Math.min(left, bandLo);
        right = Math.max(right, bandHi);
      }
    }
    const start = Math.max(Math.ceil(left - 0.5), 0);
    const end = Math.min(Math.floor(right - 0.5), width - 1);
    if (start <= end) span(row, start, end);
  }
}

/**
 * Emit the spans of a polyline of radius r through [x, y, t, p] points, from segment
 * `fromSegment` on (so a growing stroke is painted incrementally, one new segment at a time).
 * A one-point polyline is a disc.
 */
export function polylineSpans(points, r, width, height, span, fromSegment = 0) {
  const n = points.length;
  if (n === 0) return;
  if (n === 1) {
    if (fromSegment === 0) {
      const [x, y] = points[0];
      segmentSpans(x, y, x, y, r, width, height, span);
    }
    return;
  }
  for (let k = fromSegment; k < n - 1; k++) {
    const a = points[k];
    const b = points[k + 1];
    segmentSpans(a[0], a[1], b[0], b[1], r, width, height, span);
  }
}

/** Emit the spans inside the closed polygon through the points (even-odd rule). Mirrors _polygon_spans. */
export function polygonSpans(points, width, height, span) {
  const n = points.length;
  // Count crossings per row first, then place them (a counting sort by row).
  let minRow = Infinity;
  let maxRow = -Infinity;
  const edges = [];
  for (let k = 0; k < n; k++) {
    const x0 = points[k][0];
    const y0 = points[k][1];
    const next = points[(k + 1) % n];
    const x1 = next[0];
    const y1 = next[1];
    if (y0 === y1) continue;
    const lo = Math.min(y0, y1);
    const hi = Math.max(y0, y1);
    // Rows whose centre yc satisfies lo <= yc < hi: half-open, so shared vertices count once.
    const first = Math.max(Math.ceil(lo - 0.5), 0);
    const last = Math.min(Math.ceil(hi - 0.5) - 1, height - 1);
    if (first > last) continue;
    edges.push(x0, y0, x1, y1, first, last);
    if (first < minRow) minRow = first;
    if (last > maxRow) maxRow = last;
  }
  if (edges.length === 0) return;
  const rows = maxRow - minRow + 1;
  const counts = new Int32Array(rows + 1);
  for (let k = 0; k < edges.length; k += 6) {
    for (let row = edges[k + 4]; row <= edges[k + 5]; row++) counts[row - minRow + 1]++;
  }
  for (let i = 1; i <= rows; i++) counts[i] += counts[i - 1];
  const xs = new Float64Array(counts[rows]);
  const fill = counts.slice(0, rows);
  for (let k = 0; k < edges.length; k += 6) {
    const ex0 = edges[k];
    const ey0 = edges[k + 1];
    const ex1 = edges[k + 2];
    const ey1 = edges[k + 3];
    for (let row = edges[k + 4]; row <= edges[k + 5]; row++) {
      const yc = row + 0.5;
      xs[fill[row - minRow]++] = ex0 + ((yc - ey0) * (ex1 - ex0)) / (ey1 - ey0);
    }
  }
  for (let i = 0; i < rows; i++) {
    const from = counts[i];
    const to = counts[i + 1];
    if (to - from > 2) xs.subarray(from, to).sort();
    else if (to - from === 2 && xs[from] > xs[from + 1]) {
      const swap = xs[from];
      xs[from] = xs[from + 1];
      xs[from + 1] = swap;
    }
    const row = minRow + i;
    for (let k = from; k + 1 < to; k += 2) {
      const start = Math.max(Math.ceil(xs[k] - 0.5), 0);
      const end = Math.min(Math.ceil(xs[k + 1] - 0.5) - 1, width - 1);
      if (start <= end) span(row, start, end);
    }
  }
}

/** Emit the spans of one stroke of the strokes document, whatever its tool. */
export function strokeSpans(stroke, width, height, span) {
  if (LASSOS.has(stroke.tool)) polygonSpans(stroke.points, width, height, span);
  else polylineSpans(stroke.points, stroke.width / 2.0, width, height, span);
}

/** Return the mask of these strokes as a Uint8Array of width * height (1 = set), row-major. */
export function rasterize(strokes, width, height) {
  const mask = new Uint8Array(width * height);
  for (const stroke of strokes) {
    const value = SETS[stroke.tool] ? 1 : 0;
    strokeSpans(stroke, width, height, (row, start, end) => {
      mask.fill(value, row * width + start, row * width + end + 1);
    });
  }
  return mask;
}

/** Return the mask as row-major run lengths, starting with a (possibly empty) run of zeros. */
export function maskRuns(mask) {
  const runs = [];
  let value = 0;
  let length = 0;
  for (let i = 0; i < mask.length; i++) {
    if (mask[i] === value) length++;
    else {
      runs.push(length);
      value = mask[i];
      length = 1;
    }
  }
  runs.push(length);
  return runs;
}
