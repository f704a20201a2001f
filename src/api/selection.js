/**
 * The research API's selection parameters (docs/research.md, "Choosing annotations"): which annotations a
 * figure, a heat map or an export counts. `filters` is the Review page's selection
 * ({status, test, label, correct}, see ../review/filters.js); only what differs from the API's
 * own defaults is sent, so the URLs of the default view stay short and cacheable.
 */

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
