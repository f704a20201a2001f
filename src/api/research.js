/**
 * The research endpoints the Review page reads (docs/research.md). Imported only by
 * the Review page's chunk, so annotators never download it. Files (heat maps, exports) are
 * fetched by the browser itself through their URLs: an <img> or a download link streams them
 * without holding them in memory here.
 */

import { request } from './client.js';
import { withSelection } from './selection.js';

export const research = {
  dataset: (datasetId) => request('GET', `/api/datasets/${datasetId}/`),
  /** Agreement and quality of the dataset, with one entry per annotated image. */
  datasetStats: (datasetId, filters) => request('GET', withSelection(`/api/datasets/${datasetId}/stats/`, filters)),
  image: (imageId) => request('GET', `/api/images/${imageId}/`),
  /** One image's figures: every pair of annotators, every answer (with its annotation's id). */
  imageStats: (imageId, filters) => request('GET', withSelection(`/api/images/${imageId}/stats/`, filters)),
  /** One annotation with its strokes, text and times. */
  annotation: (annotationId) => request('GET', `/api/annotations/${annotationId}/`),
};

export const researchUrls = {
  /** The image with its heat map laid over it, for the selected annotations. */
  overlay: (imageId, filters, { sigma = 0, opacity } = {}) =>
    withSelection(`/api/images/${imageId}/saliency-overlay.png`, filters, { sigma: sigma || null, opacity }),
  maskPng: (annotationId) => `/api/annotations/${annotationId}/mask.png`,
  strokesJson: (annotationId) => `/api/annotations/${annotationId}/strokes.json`,
  export: (datasetId, format, filters) => withSelection(`/api/datasets/${datasetId}/export/`, filters, { format }),
};

/** A study's research side (docs/studies.md, "Get the data out"): its dashboard, its files and maps. */
export const studies = {
  list: () => request('GET', '/api/studies/?page_size=500'),
  get: (studyId) => request('GET', `/api/studies/${studyId}/`),
  dashboard: (studyId) => request('GET', `/api/studies/${studyId}/dashboard/`),
  /** Agreement per condition and per pair of conditions, with one entry per annotated image. */
  stats: (studyId) => request('GET', `/api/studies/${studyId}/stats/`),
  /** Open, pause, close or reopen (admins). */
  setStatus: (studyId, status) => request('POST', `/api/studies/${studyId}/status/`, { body: { status } }),
};

export const studyUrls = {
  trials: (studyId, { condition = null, kind = 'main', format = 'csv' } = {}) =>
    `/api/studies/${studyId}/export/?format=${format}&kind=${kind}${condition ? `&condition=${encodeURIComponent(condition)}` : ''}`,
  participants: (studyId) => `/api/studies/${studyId}/participants/`,
  stats: (studyId) => `/api/studies/${studyId}/stats/?format=csv`,
  file: (studyId) => `/api/studies/${studyId}/file/`,
};
