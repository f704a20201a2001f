/**
 * What the Review page shows: a dataset's agreement and quality figures under the chosen
 * filters, and the image open in the image view with each selected annotator's work
 * (strokes, answer, text, times). Registered by the Review page itself (`ensureReviewModule`),
 * so the annotation app's store and bundle carry none of it. Large answers are markRaw: they
 * are replaced whole, never edited, and a 50,000-image list must not become 50,000 proxies.
 *
 * state: {
 *   datasetId: number | null,
 *   dataset: null | {id, name, question, choices, image_count, ...},
 *   stats: null | {annotations, images_annotated, fleiss_kappa, accuracy, iou, iou_histogram,
 *                  active_ms, annotators: [{id, username, accuracy, ...}], images: [{id, path, iou, accuracy, ...}]},
 *   statsKey: string,            // the dataset and filters `stats` belongs to
 *   loading: boolean, error: string | null,
 *   view: null | {key, image: {id, path, width, height, file_url, ground_truth, ...},
 *                 stats: {pairs, answers, iou, ...}, annotations: [{id, annotator, annotator_username,
 *                 label, text, status, started_at, submitted_at, active_ms, strokes, ...}]},
 *   viewLoading: boolean, viewError: string | null,
 * }
 */

import { markRaw } from 'vue';
import { selectionParams } from '../../api/selection.js';
import { withServices } from '../withServices.js';

const keyOf = (id, filters) => `${id}?${selectionParams(filters).toString()}`;

const state = () => ({
  datasetId: null,
  dataset: null,
  stats: null,
  statsKey: '',
  loading: false,
  error: null,
  view: null,
  viewLoading: false,
  viewError: null,
});

const getters = {
  /** Annotator id -> its index in the dataset's list (sorted by username): one colour each, everywhere. */
  annotatorIndex: (state) => {
    const index = new Map();
    if (state.stats) state.stats.annotators.forEach((a, i) => index.set(a.id, i));
    return index;
  },
};

const mutations = {
  setDataset(state, { datasetId, dataset }) {
    state.datasetId = datasetId;
    state.dataset = dataset ? markRaw(dataset) : null;
  },
  setStats(state, { key, stats }) {
    state.statsKey = key;
    state.stats = stats ? markRaw(stats) : null;
  },
  setLoading(state, loading) {
    state.loading = loading;
  },
  setError(state, error) {
    state.error = error;
  },
  setView(state, view) {
    state.view = view ? markRaw(view) : null;
  },
  setViewLoading(state, loading) {
    state.viewLoading = loading;
  },
  setViewError(state, error) {
    state.viewError = error;
  },
};

/** Load the dataset and its figures for the filters, unless they are what is shown already. */
async function loadStats({ api, tickets }, { commit, state }, { datasetId, filters, force = false }) {
  const id = Number(datasetId);
  const key = keyOf(id, filters);
  if (!force && state.statsKey === key && state.stats) return;
  const ticket = ++tickets.stats;
  commit('setLoading', true);
  commit('setError', null);
  try {
    const [dataset, stats] = await Promise.all([
      state.datasetId === id && state.dataset ? state.dataset : api.research.dataset(id),
      api.research.datasetStats(id, filters),
    ]);
    if (ticket !== tickets.stats) return; // a newer selection was asked for meanwhile
    commit('setDataset', { datasetId: id, dataset });
    commit('setStats', { key, stats });
  } catch (error) {
    if (ticket === tickets.stats) commit('setError', error.message);
  } finally {
    if (ticket === tickets.stats) commit('setLoading', false);
  }
}

/** Load one image with every selected annotation, strokes included. */
async function loadView({ api, tickets }, { commit, state }, { imageId, filters }) {
  const key = keyOf(Number(imageId), filters);
  if (state.view && state.view.key === key) return;
  const ticket = ++tickets.view;
  commit('setViewLoading', true);
  commit('setViewError', null);
  try {
    const [image, stats] = await Promise.all([api.research.image(imageId), api.research.imageStats(imageId, filters)]);
    const annotations = await Promise.all(stats.answers.map((answer) => api.research.annotation(answer.annotation)));
    if (ticket !== tickets.view) return;
    commit('setView', { key, image, stats, annotations });
  } catch (error) {
    if (ticket === tickets.view) {
      commit('setView', null);
      commit('setViewError', error.message);
    }
  } finally {
    if (ticket === tickets.view) commit('setViewLoading', false);
  }
}

/** Return the module; `api` holds the research endpoints (`api.research`). */
export function createReviewModule(api) {
  const tickets = { stats: 0, view: 0 }; // the latest request of each kind: older answers are dropped
  return { namespaced: true, state, getters, mutations, actions: withServices({ api, tickets }, { loadStats, loadView }) };
}

/** Register the review module on `store` once; the Review page calls it as it loads. */
export function ensureReviewModule(store, api) {
  if (!store.hasModule('review')) store.registerModule('review', createReviewModule(api));
}
