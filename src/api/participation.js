/**
 * The participation API (docs/studies.md, "API for participants"): what a study's participant's
 * pages call. Every call but enrolling needs the participant's session, which enrolling starts.
 */

import { request } from './client.js';

export const participation = {
  /** Enrol by the study link (201), or come back as the participant this browser or platform id is (200). */
  enrol: (slug, params) => request('POST', `/api/studies/${encodeURIComponent(slug)}/enrol/`, { body: { params } }),
  /** {study, participant, steps, index, current, progress, completion}. */
  state: () => request('GET', '/api/participation/'),
  /** Complete the step the participant is on: consent {agree, version}, questionnaire {answers}, else {}. */
  completeStep: (index, payload) => request('POST', `/api/participation/steps/${index}/`, { body: payload }),
  withdraw: () => request('POST', '/api/participation/withdraw/'),
  /** {trials: [...], finished, progress}: the image to do now in the step, and up to `ahead` more. */
  trials: (ahead) => request('GET', `/api/participation/trials/?ahead=${ahead}`),
  /** The participant's trial of an image: {id, step, position, practice, status, image, guidance}. */
  trial: (imageId) => request('GET', `/api/participation/images/${imageId}/`),
  /** The participant's annotation of an image, as the strokes document (version 0 before its first save). */
  annotation: (imageId) => request('GET', `/api/participation/images/${imageId}/annotation/`),
  /** PUT the whole document (a JSON string built by the sync), as images.saveAnnotation does for annotators. */
  saveAnnotation: (imageId, json) =>
    request('PUT', `/api/participation/images/${imageId}/annotation/`, { rawBody: json, headers: { Prefer: 'return=minimal' } }),
  /**
   * PATCH what changed since a version (a JSON string built by the sync, with the guidance's toggles and
   * the time-out when they changed), as images.changeAnnotation does for annotators; answered without strokes.
   */
  changeAnnotation: (imageId, json) => request('PATCH', `/api/participation/images/${imageId}/annotation/`, { rawBody: json }),
  /** After a practice image is submitted: {answer, your_answer, correct, iou, reference_mask_url}. */
  feedback: (imageId) => request('GET', `/api/participation/images/${imageId}/feedback/`),
};

/**
 * Return the REST client as a study participant's pages use it: the annotation store opens and
 * saves their images through the participation API; they have no datasets, history or skips.
 * main.js hands it to the store when the app starts on a study link.
 */
export function participantApi(api) {
  const none = () => Promise.reject(new Error('A study participant has no datasets.'));
  return {
    ...api,
    datasets: { list: async () => ({ results: [] }), get: none, next: none },
    images: {
      get: (id) => participation.trial(id).then((trial) => trial.image),
      annotation: participation.annotation,
      saveAnnotation: participation.saveAnnotation,
      changeAnnotation: participation.changeAnnotation,
      skip: none,
      prefetch: api.images.prefetch,
    },
    annotations: { history: async () => [] },
  };
}
