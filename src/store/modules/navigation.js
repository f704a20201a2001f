/**
 * The way from image to image in a dataset: the annotator's own sequence (history), progress,
 * the images the server leased ahead (what Next goes on with while the server is away), and
 * opening, submitting-and-moving-on and skipping. The open document itself is ./annotation.js.
 *
 * state: {
 *   datasetId: number | null,
 *   loading: boolean, error: string | null,   // opening an image
 *   history: [{imageId, status}],  // the annotator's own images of this dataset, in started order
 *   progress: {done, skipped, in_progress, total, active_ms, finished} | null,
 *   ahead: Image[],          // images leased to the annotator, in queue order, from the server's last
 *                            // answer (its `image` first): what Next goes on with while the server is away
 *   resumedImageId: number | null, // the server handed this image back: "Continuing where you stopped"
 *   banner: string | null,   // a message that outlives the image it was about (an image that was full)
 * }
 */

import { markRaw } from 'vue';
import { draftFromServer, draftKey, isDirty } from '../../document.js';
import { keepHistory, keepLeased, keepProgress, readHistory, readLeased, readProgress } from '../leasedImages.js';
import { withServices } from '../withServices.js';

export const OFFLINE_SKIP =
  'Skipping needs the server, which cannot be reached now: it gives this image to someone else. ' +
  'Annotate it, or skip it once you are back online.';

/** Return the fields of an image the app keeps (ids, size, file), from the API's image. */
export function slimImage(image) {
  return { id: image.id, width: image.width, height: image.height, short_id: image.short_id, file_url: image.file_url };
}

/** Return the server's images in queue order, its current one first: [image, ...ahead], without repeats. */
export function queueOf(body) {
  const seen = new Set();
  const images = [];
  for (const image of [body.image, ...(body.ahead || [])]) {
    if (image && !seen.has(image.id)) {
      seen.add(image.id);
      images.push(slimImage(image));
    }
  }
  return images;
}

/** Return the first image of the queue the annotator has not finished or started here, other than `current`. */
export function firstOpen(queue, history, current = null) {
  const seen = new Map(history.map((h) => [h.imageId, h.status]));
  const image = queue.find((i) => i.id !== current && !seen.has(i.id));
  return image ? image.id : null;
}

/** Return the annotator's history of a dataset: the server's, with the work done here and not yet sent. */
function mergedHistory(server, local) {
  const entries = new Map();
  for (const a of server) entries.set(a.image, { imageId: a.image, status: a.status, startedAt: a.started_at });
  for (const d of local) {
    if (!entries.has(d.imageId) && d.strokes.length + (d.label ? 1 : 0) + (d.text ? 1 : 0) > 0) {
      entries.set(d.imageId, { imageId: d.imageId, status: d.status, startedAt: d.startedAt });
    } else if (entries.has(d.imageId) && isDirty(d)) entries.get(d.imageId).status = d.status;
  }
  const history = [...entries.values()].sort((a, b) => String(a.startedAt).localeCompare(String(b.startedAt)));
  return history.map(({ imageId, status }) => ({ imageId, status }));
}

/** Return what a network error leaves: null (the server is away), or throw anything else. */
async function unlessOffline(request) {
  try {
    return await request();
  } catch (error) {
    if (!error.isNetwork) throw error;
    return null;
  }
}

const state = () => ({
  datasetId: null,
  loading: false,
  error: null,
  history: [],
  progress: null,
  ahead: [],
  resumedImageId: null,
  banner: null,
});

const getters = {
  dataset: (state, _getters, _rootState, rootGetters) => rootGetters['datasets/byId'](state.datasetId),
  /** 0-based place of the open image in the annotator's own sequence. */
  index: (state, _getters, rootState) => {
    const draft = rootState.annotation.draft;
    if (!draft) return 0;
    const i = state.history.findIndex((h) => h.imageId === draft.imageId);
    return i >= 0 ? i : state.history.length;
  },
  /** The images expected of the annotator: the dataset's total, as last told (kept offline), never fewer than the open one's place. */
  total: (state, getters) => Math.max(state.progress ? state.progress.total : 0, getters.index + 1),
};

const mutations = {
  setDataset(state, datasetId) {
    state.datasetId = Number(datasetId);
  },
  setLoading(state, loading) {
    state.loading = loading;
  },
  setError(state, error) {
    state.error = error;
  },
  setHistory(state, history) {
    state.history = history;
  },
  setProgress(state, progress) {
    state.progress = progress;
  },
  setAhead(state, images) {
    state.ahead = markRaw(images);
  },
  setResumed(state, imageId) {
    state.resumedImageId = imageId;
  },
  setBanner(state, banner) {
    state.banner = banner;
  },
  markInHistory(state, { imageId, status }) {
    const item = state.history.find((h) => h.imageId === imageId);
    if (item) item.status = status;
    else state.history.push({ imageId, status });
  },
  /** Change the status of an image already in the history (a skip keeps an untouched image out of it). */
  setHistoryStatus(state, { imageId, status }) {
    const item = state.history.find((h) => h.imageId === imageId);
    if (item) item.status = status;
  },
};

/**
 * Load what the dataset's navigation needs: the annotator's history, progress, and the images
 * leased ahead. Each is kept in localStorage, so a reload while the server is away counts and
 * moves exactly as the page did online (one truth for "Image k of n").
 */
async function openDataset({ api, drafts }, { commit, rootState, rootGetters, state }, datasetId) {
  if (state.datasetId === Number(datasetId) && state.history.length) return;
  const userId = rootState.auth.user.id;
  if (state.datasetId !== Number(datasetId)) {
    // Another dataset's progress must not count this one's images (opened by its address). The
    // list's progress is fresh when it came from the server, else the one kept at the last answer.
    const dataset = rootGetters['datasets/byId'](datasetId);
    const listed = dataset && dataset.progress && !rootState.datasets.error ? dataset.progress : null;
    commit('setProgress', listed || readProgress(userId, datasetId) || (dataset && dataset.progress) || null);
  }
  commit('setDataset', datasetId);
  commit('setBanner', null);
  commit('setAhead', readLeased(userId, datasetId));
  const local = (await drafts.list(userId)).filter((d) => d.datasetId === Number(datasetId) && (isDirty(d) || d.status));
  let server = await unlessOffline(() => api.annotations.history(datasetId));
  if (server) keepHistory(userId, datasetId, server);
  else server = readHistory(userId, datasetId);
  commit('setHistory', mergedHistory(server, local));
}

/** Return the draft to open: unsent local work wins over the server's copy (a conflict is found when it is sent). */
async function draftToOpen({ api, drafts }, { rootState, state }, { datasetId, imageId }) {
  const userId = rootState.auth.user.id;
  const local = await drafts.get(draftKey(userId, imageId));
  const [image, server] = (await unlessOffline(() => Promise.all([api.images.get(imageId), api.images.annotation(imageId)]))) || [null, null];
  const known = image ? slimImage(image) : null;
  if (local && (isDirty(local) || local.conflict)) return { ...local, image: known || local.image };
  if (server) {
    const draft = draftFromServer(server, { userId, datasetId: Number(datasetId), image: known });
    if (local) draft.localRev = draft.syncedRev = local.localRev;
    return draft;
  }
  if (local) return local;
  const leased = state.ahead.find((i) => i.id === Number(imageId));
  if (!leased) throw new Error('This image is not available offline; reconnect to open it.');
  return draftFromServer({}, { userId, datasetId: Number(datasetId), image: leased });
}

/** Open an image for editing. */
async function openImage(services, context, where) {
  const { commit } = context;
  commit('setLoading', true);
  commit('setError', null);
  try {
    await context.dispatch('annotation/load', await draftToOpen(services, context, where), { root: true });
  } catch (error) {
    commit('annotation/close', null, { root: true });
    commit('setError', error.message);
    throw error;
  } finally {
    commit('setLoading', false);
  }
}

/** Return the id of the image to work on when entering a dataset, or null when it is done. */
async function firstImage({ api }, { commit, state, dispatch }, datasetId) {
  await dispatch('openDataset', datasetId);
  try {
    const next = await api.datasets.next(datasetId);
    await dispatch('noteHandout', next);
    if (next.image) {
      // Work done here but not yet sent (offline a moment ago) is not what to show first.
      const id = firstOpen(state.ahead, state.history.filter((h) => h.status !== 'draft')) ?? next.image.id;
      commit('setResumed', next.lease && next.lease.resumed && id === next.image.id ? id : null);
      return id;
    }
  } catch (error) {
    if (!error.isNetwork) throw error;
    const open = state.history.find((h) => h.status === 'draft');
    if (open) return open.imageId;
    return dispatch('offlineNext');
  }
  return null;
}

function noteProgress(_services, { commit, state, rootState }, progress) {
  if (!progress) return;
  commit('setProgress', progress);
  keepProgress(rootState.auth.user.id, state.datasetId, progress);
  commit('datasets/setProgress', { datasetId: state.datasetId, progress }, { root: true });
}

/** Take in an answer of `next` or `skip`: progress, and the images leased ahead (kept offline, their files fetched). */
function noteHandout({ sync }, { commit, dispatch, state, rootState }, body) {
  // The server answered: whatever waits for it goes now, not when its back-off runs out.
  if (rootState.sync.status === 'offline') sync.retryNow();
  dispatch('noteProgress', body.progress);
  const images = queueOf(body);
  commit('setAhead', images);
  keepLeased(rootState.auth.user.id, state.datasetId, images);
  dispatch('prefetchAhead');
}

/** Fetch the files of the images leased ahead, once per page load, so the service worker keeps them. */
function prefetchAhead({ api, prefetched }, { state }) {
  for (const image of state.ahead) {
    if (!prefetched.has(image.file_url)) {
      prefetched.add(image.file_url);
      api.images.prefetch(image);
    }
  }
}

/** The first image leased ahead that the annotator has not touched. */
function offlineNext(_services, { state, rootState }) {
  const draft = rootState.annotation.draft;
  return firstOpen(state.ahead, state.history, draft ? draft.imageId : null);
}

/**
 * Skip the open image with a reason and return where to go (an image id or 'done'). Refused
 * with OFFLINE_SKIP while the server cannot be reached: only it can give the image to others.
 */
async function skip({ api }, { commit, state, dispatch, rootState }, reason) {
  const { imageId } = rootState.annotation.draft;
  if (!reason || !reason.trim()) throw new Error('Say why you skip this image.');
  // Send the drawing first, so a save arriving after the skip does not take the image back.
  await dispatch('annotation/send', 6000, { root: true }).catch(() => {});
  let body;
  try {
    body = await api.images.skip(imageId, reason.trim());
  } catch (error) {
    throw error.isNetwork ? new Error(OFFLINE_SKIP) : error;
  }
  await dispatch('annotation/dropUnsent', null, { root: true });
  commit('setHistoryStatus', { imageId, status: 'skipped' });
  commit('setResumed', null);
  await dispatch('noteHandout', body);
  if (!body.image) return 'done';
  return firstOpen(state.ahead, state.history, imageId) ?? 'done';
}

/** A draft was refused with 409 image_full: keep it here, say so (the page then moves on from the open image). */
function noteFull(_services, { commit }, { draft, current }) {
  commit('setHistoryStatus', { imageId: draft.imageId, status: 'full' });
  const id = draft.image && draft.image.short_id ? ` #${draft.image.short_id}` : '';
  commit(
    'setBanner',
    `Image${id} already has all the annotators it needs, so your work on it was not sent; it stays in this browser.` +
      (current ? ' Here is the next image.' : ''),
  );
}

/** Return where to go from an open image that is full: the server's next image, else one leased ahead. */
async function leaveFull({ api }, { state, dispatch }) {
  const next = await unlessOffline(() => api.datasets.next(state.datasetId));
  if (next) {
    await dispatch('noteHandout', next);
    if (!next.image) return 'done';
  }
  return (await dispatch('offlineNext')) ?? 'done';
}

/**
 * Submit the open image if complete and return where to go: an image id, 'done', or null
 * (stay: something required is missing, and the notice says what).
 */
async function next({ api }, { commit, state, getters, dispatch, rootState }) {
  if (!(await dispatch('annotation/submit', null, { root: true }))) return null;
  const current = rootState.annotation.draft.imageId;
  commit('markInHistory', { imageId: current, status: 'submitted' });
  const i = getters.index;
  if (i < state.history.length - 1) return state.history[i + 1].imageId;
  try {
    await dispatch('annotation/send', 6000, { root: true }); // the server must know before it picks the next one
  } catch {
    // offline or refused: the draft stays queued; go on with the look-ahead
  }
  commit('setResumed', null);
  const handout = await unlessOffline(() => api.datasets.next(state.datasetId));
  if (handout) {
    await dispatch('noteHandout', handout);
    if (!handout.image) return 'done';
    const done = state.history.find((h) => h.imageId === handout.image.id && h.status !== 'draft');
    if (handout.image.id !== current && !done) return handout.image.id;
  }
  // The server could not be asked, or did not know yet what was done here: the images leased ahead.
  const offline = firstOpen(state.ahead, state.history, current);
  return offline === null ? 'done' : offline;
}

/** Return the image before the open one in the annotator's own sequence, or null. */
function previous(_services, { state, getters }) {
  const i = getters.index;
  return i > 0 ? state.history[i - 1].imageId : null;
}

const actions = { openDataset, openImage, firstImage, noteProgress, noteHandout, prefetchAhead, offlineNext, skip, noteFull, leaveFull, next, previous };

/** Return the module; services: {api, drafts, sync}, created in main.js. */
export function createNavigationModule({ api, drafts, sync }) {
  const prefetched = new Set(); // image files already fetched for the service worker
  return { namespaced: true, state, getters, mutations, actions: withServices({ api, drafts, sync, prefetched }, actions) };
}
