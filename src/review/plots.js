/** Pure helpers for the Review page's plots: binning, axis ticks, scales. */

/**
 * Return how many values fall in each bin between consecutive `edges` (increasing), as
 * NumPy's histogram counts them: [edge_i, edge_i+1) and the last bin closed, [.., last].
 * Values outside the edges, null and NaN are not counted.
 */
export function binValues(values, edges) {
  const counts = new Array(Math.max(edges.length - 1, 0)).fill(0);
  const last = edges.length - 1;
  for (const value of values) {
    if (value === null || value === undefined || Number.isNaN(value)) continue;
    if (value < edges[0] || value > edges[last]) continue;
    let lo = 0;
    let hi = last; // find the last edge <= value
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (edges[mid] <= value) lo = mid;
      else hi = mid;
    }
    counts[value === edges[last] ? last - 1 : lo] += 1;
  }
  return counts;
}

/** Return `count` + 1 equal edges from lo to hi. */
export function evenEdges(lo, hi, count) {
  return Array.from({ length: count + 1 }, (_, i) => (i === count ? hi : lo + ((hi - lo) * i) / count));
}

/**
 * Return round tick values covering [lo, hi] (1, 2 or 5 times a power of ten apart), about
 * `count` of them; the first is <= lo and the last >= hi, so they make an axis's ends.
 */
export function niceTicks(lo, hi, count = 5) {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1];
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.5;
    lo -= pad;
    hi += pad;
  }
  const rough = (hi - lo) / Math.max(count, 1);
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) || 10 * power;
  const first = Math.floor(lo / step + 1e-9) * step;
  const ticks = [];
  for (let v = first; v < hi + step - 1e-9 * step; v += step) {
    ticks.push(Number(v.toPrecision(12)));
    if (ticks.length > 100) break;
  }
  if (ticks.length < 2) ticks.push(Number((first + step).toPrecision(12)));
  return ticks;
}

/** Return a linear map from the domain [d0, d1] to the range [r0, r1]. */
export function linearScale(d0, d1, r0, r1) {
  const span = d1 - d0 || 1;
  return (value) => r0 + ((value - d0) / span) * (r1 - r0);
}
