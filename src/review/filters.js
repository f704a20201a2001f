/**
 * The Review page's filters and order, kept in the URL's query so that reload, back and a
 * shared link show the same selection; and their translation into the research API's
 * selection parameters (docs/research.md, "Choosing annotations").
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

/** Return the API's selection parameters for the filters (only those that differ from the API's defaults). */
export function selectionParams(filters) {
  const params = new URLSearchParams();
  if (filters.status && filters.status !== 'submitted') params.set('status', filters.status);
  if (filters.test) params.set('include_test', 'true');
  if (filters.label) params.set('label', filters.label);
  if (filters.correct) params.set('correct', filters.correct);
  return params;
}

/** Return `path` with the filters' selection and the `extra` parameters as its query string. */
export function withSelection(path, filters, extra = {}) {
  const params = selectionParams(filters);
  for (const [key, value] of Object.entries(extra)) if (value !== undefined && value !== null) params.set(key, String(value));
  const query = params.toString();
  return query ? `${path}?${query}` : path;
}
