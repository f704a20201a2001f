/** EyeTagger's REST API (docs/api.md), one function per call the app makes. */

import { request } from './client.js';

export { ApiError } from './client.js';
export { participation } from './participation.js';

export const auth = {
  me: () => request('GET', '/api/auth/me/'),
  csrf: () => request('GET', '/api/auth/csrf/'),
  login: (username, password) => request('POST', '/api/auth/login/', { body: { username, password } }),
  logout: () => request('POST', '/api/auth/logout/'),
};

/** Images leased ahead by each `next` and `skip`: what the annotator goes on with while the server is away. */
export const AHEAD = 10;

export const datasets = {
  list: () => request('GET', '/api/datasets/?page_size=500'),
  get: (id) => request('GET', `/api/datasets/${id}/`),
  /**
   * {image, progress: {done, skipped, in_progress, total, active_ms, finished}, lease, ahead: [image...]}:
   * the server decides what comes next, and leases `ahead` more images to this annotator.
   */
  next: (id, ahead = AHEAD) => request('GET', `/api/datasets/${id}/next/?ahead=${ahead}`),
  /** {dataset: {images, images_complete, annotations_wanted, submitted, ...} | null, annotators: [...]}: the whole dataset's, for researchers and admins. */
  progress: (id) => request('GET', `/api/datasets/${id}/progress/`),
};

export const images = {
  get: (id) => request('GET', `/api/images/${id}/`),
  annotation: (id) => request('GET', `/api/images/${id}/annotation/`),
  /**
   * PUT the whole document; `json` is a JSON string built by the sync plugin. The answer leaves out
   * the strokes just sent (`Prefer: return=minimal`): the sync needs its `version`, not ~60 KB back.
   */
  saveAnnotation: (id, json) =>
    request('PUT', `/api/images/${id}/annotation/`, { rawBody: json, headers: { Prefer: 'return=minimal' } }),
  /** Skip the image with a reason; answers like `next`. */
  skip: (id, reason, ahead = AHEAD) => request('POST', `/api/images/${id}/skip/?ahead=${ahead}`, { body: { reason } }),
  /** Fetch the image's file so the service worker keeps it for offline work (errors do not matter). */
  prefetch: (image) => fetch(image.file_url, { credentials: 'same-origin' }).then(() => true, () => false),
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

/** Studies with participants, for researchers and admins (their dashboards are in the Review chunk). */
export const studies = {
  list: () => request('GET', '/api/studies/?page_size=500'),
};
