/** What the study link carries: its query parameters, the crowd platform's ids among them. */

const MAX_PARAMS = 30;

/**
 * Return the link's query parameters as the server reads them: text only, each name once (the
 * first value), at most MAX_PARAMS (the server refuses a link with more, naming the problem).
 */
export function linkParams(query) {
  const params = {};
  for (const [name, value] of Object.entries(query || {})) {
    const first = Array.isArray(value) ? value[0] : value;
    if (typeof first === 'string') params[name] = first;
    if (Object.keys(params).length > MAX_PARAMS) break;
  }
  return params;
}
