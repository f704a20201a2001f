/** EyeTagger's REST API (README "REST API"), one function per call the app makes. */

import { request } from './client.js';

export { ApiError } from './client.js';

export const auth = {
  me: () => request('GET', '/api/auth/me/'),
  csrf: () => request('GET', '/api/auth/csrf/'),
  login: (username, password) => request('POST', '/api/auth/login/', { body: { username, password } }),
  logout: () => request('POST', '/api/auth/logout/'),
};

export const datasets = {
  list: () => request('GET', '/api/datasets/?page_size=500'),
  get: (id) => request('GET', `/api/datasets/${id}/`),
  /** {image: {...} | null, progress: {done, total}}: the server decides what comes next. */
  next: (id) => request('GET', `/api/datasets/${id}/next/`),
  /** Up to 500 images in order: the look-ahead used only when the server cannot be asked. */
  images: (id) => request('GET', `/api/images/?dataset=${id}&page_size=500`),
};

export const images = {
  get: (id) => request('GET', `/api/images/${id}/`),
  annotation: (id) => request('GET', `/api/images/${id}/annotation/`),
  /** PUT the whole document; `body` is a JSON string built by the sync plugin. */
  saveAnnotation: (id, json) => request('PUT', `/api/images/${id}/annotation/`, { rawBody: json }),
};

export const annotations = {
  /** The caller's own annotations of a dataset in the order they were started (for Previous). */
  async history(datasetId) {
    const all = [];
    let url = `/api/annotations/?dataset=${datasetId}&ordering=started_at&page_size=500`;
    for (let page = 0; url && page < 40; page++) {
      const body = await request('GET', url);
      all.push(...(body.results || []));
      const next = body.next ? new URL(body.next, window.location.origin) : null;
      url = next ? next.pathname + next.search : null;
    }
    return all;
  },
};
