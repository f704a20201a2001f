/**
 * The Review page's filters and order, kept in the URL's query so that reload, back and a
 * shared link show the same selection. What the research API makes of them (docs/research.md,
 * "Choosing annotations") is ../api/selection.js.
 */

export const STATUSES = ['submitted', 'draft', 'all'];
export const DEFAULTS = Object.freeze({ status: 'submitted', test: false, label: '', correct: '', sort: 'agreement', dir: 'asc' });

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
  return query;
}
