/**
 * The Review page's filters and order, and the IoU range picked on the histogram, kept in the
 * URL's query so that reload, back and a shared link show the same selection. What the research API makes of them (docs/research.md,
 * "Choosing annotations") is ../api/selection.js.
 */

export const STATUSES = ['submitted', 'draft', 'all'];
export const DEFAULTS = Object.freeze({ status: 'submitted', test: false, label: '', correct: '', sort: 'agreement', dir: 'asc', iou: null, iouBy: 'pairs' });

/** Return the IoU range "0.5-0.6" asks for as [lo, hi] within [0, 1], or null. */
function parseRange(text) {
  const match = typeof text === 'string' ? /^(\d*\.?\d+)-(\d*\.?\d+)$/.exec(text) : null;
  if (!match) return null;
  const [lo, hi] = [Number(match[1]), Number(match[2])];
  return lo >= 0 && hi <= 1 && lo < hi ? [lo, hi] : null;
}

/**
 * Return whether an image of the stats is in the IoU range `[lo, hi)` (the last bin, ending at
 * 1, includes 1, as the histogram counts): by its pairs of annotators (any pair's IoU, `by`
 * 'pairs') or by its mean IoU ('images').
 */
export function inIouRange(image, [lo, hi], by = 'pairs') {
  const inside = (v) => v !== null && v !== undefined && v >= lo && (hi >= 1 ? v <= hi : v < hi);
  if (by === 'images') return !!image.iou && inside(image.iou.mean);
  return (image.pair_ious || []).some(inside);
}

/** Return the filters a route query asks for, with defaults for what it leaves out or gets wrong. */
export function filtersFromQuery(query = {}) {
  const pick = (value) => (Array.isArray(value) ? value[0] : value);
  const status = pick(query.status);
  const correct = pick(query.correct);
  const dir = pick(query.dir);
  return {
    status: STATUSES.includes(status) ? status : DEFAULTS.status,
    test: pick(query.test) === '1',
    label: typeof pick(query.label) === 'string' ? pick(query.label) : '',
    correct: correct === 'true' || correct === 'false' ? correct : '',
    sort: typeof pick(query.sort) === 'string' && pick(query.sort) ? pick(query.sort) : DEFAULTS.sort,
    dir: dir === 'desc' ? 'desc' : 'asc',
    iou: parseRange(pick(query.iou)),
    iouBy: pick(query.iou_by) === 'images' ? 'images' : 'pairs',
  };
}

/** Return the route query for the filters, leaving out defaults so URLs stay short. */
export function filtersToQuery(filters) {
  const query = {};
  if (filters.status !== DEFAULTS.status) query.status = filters.status;
  if (filters.test) query.test = '1';
  if (filters.label) query.label = filters.label;
  if (filters.correct) query.correct = filters.correct;
  if (filters.sort !== DEFAULTS.sort) query.sort = filters.sort;
  if (filters.dir !== DEFAULTS.dir) query.dir = filters.dir;
  if (filters.iou) {
    query.iou = `${filters.iou[0]}-${filters.iou[1]}`;
    if (filters.iouBy !== DEFAULTS.iouBy) query.iou_by = filters.iouBy;
  }
  return query;
}
