/**
 * The open image's annotation, its undo/redo stacks, and the way from image to image.
 *
 * state: {
 *   datasetId: number | null,
 *   draft: null | {key, userId, datasetId, imageId, image: {id, width, height, short_id, file_url},
 *                  label, text, status, baseVersion, localRev, syncedRev, startedAt, activeMs,
 *                  updatedAt, conflict},           // everything of the draft but its strokes
 *   strokes: Stroke[],       // markRaw, replaced (never mutated) on each change
 *   past: Op[], future: Op[],// markRaw undo/redo stacks; Op = {type: 'add', stroke} | {type: 'clear', strokes}
 *   undoCount, redoCount,    // their lengths, reactive for the buttons
 *   loadSeq: number,         // bumped when a new document is loaded (the canvas rebuilds its mask)
 *   area: number,            // pixels set in the mask, reported by the canvas
 *   notice: string | null,   // what is missing before the image counts as submitted
 *   loading: boolean, error: string | null,
 *   history: [{imageId, status}],  // the annotator's own images of this dataset, in started order
 *   progress: {done, skipped, in_progress, total, active_ms, finished} | null,
 *   ahead: Image[],          // images leased to the annotator, in queue order, from the server's last
 *                            // answer (its `image` first): what Next goes on with while the server is away
 *   resumedImageId: number | null, // the server handed this image back: "Continuing where you stopped"
 *   banner: string | null,   // a message that outlives the image it was about (an image that was full)
 * }
 *
 * Mutations are small synchronous verbs; the persistence plugin writes the draft to IndexedDB
 * after each one that changes content, and the sync plugin sends it in the background.
 */

import { markRaw, toRaw } from 'vue';
import { limitNotice } from '../../limitNotice.js';
import { documentSize, fitsInDocument } from '../../limits.js';
import { draftFromServer, draftKey, isDirty } from '../document.js';

export const CONTENT_MUTATIONS = new Set([
  'annotation/pushStroke',
  'annotation/clear',
  'annotation/undo',
  'annotation/redo',
  'annotation/setLabel',
  'annotation/setText',
  'annotation/setStatus',
]);

const MAX_UNDO = 2000;
const AHEAD_KEY = 'eyetagger.ahead.';
export const OFFLINE_SKIP =
  'Skipping needs the server, which cannot be reached now: it gives this image to someone else. ' +
  'Annotate it, or skip it once you are back online.';

/** localStorage, or a stand-in where there is none (tests in Node). */
function storage() {
  return typeof localStorage === 'undefined' ? { getItem: () => null, setItem: () => {} } : localStorage;
}

/** Return what the dataset requires that this content lacks, as instructions (as the server words them). */
export function missingParts(dataset, { label, text, area }) {
  const missing = [];
  if (!dataset) return missing;
  const required = dataset.required || {};
  if (required.choice && (label === null || label === undefined)) {
    missing.push(dataset.question ? `choose an answer to “${dataset.question}”` : 'choose an answer');
  }
  if (required.mask && area === 0) missing.push('draw a mask');
  if (required.text && !(text || '').trim()) missing.push('type a justification');
  return missing;
}

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

function touch(state) {
  state.draft.localRev += 1;
  state.draft.updatedAt = Date.now();
}

export function createAnnotationModule(api, drafts) {
  const prefetched = new Set(); // image files already fetched for the service worker
  return {
    namespaced: true,
    state: () => ({
      datasetId: null,
      draft: null,
      strokes: markRaw([]),
      past: markRaw([]),
      future: markRaw([]),
      undoCount: 0,
      redoCount: 0,
      loadSeq: 0,
      area: 0,
      notice: null,
      loading: false,
      error: null,
      history: [],
      progress: null,
      ahead: [],
      resumedImageId: null,
      banner: null,
    }),
    getters: {
      dataset: (state, _getters, rootState, rootGetters) => rootGetters['datasets/byId'](state.datasetId),
      missing: (state, getters) =>
        state.draft ? missingParts(getters.dataset, { label: state.draft.label, text: state.draft.text, area: state.area }) : [],
      /** 0-based place of the open image in the annotator's own sequence. */
      index: (state) => {
        if (!state.draft) return 0;
        const i = state.history.findIndex((h) => h.imageId === state.draft.imageId);
        return i >= 0 ? i : state.history.length;
      },
      total: (state, getters) => Math.max(state.progress ? state.progress.total : 0, getters.index + 1),
      /** {strokes, points} the open document holds (state.strokes is replaced on each change, so this stays cached between). */
      size: (state) => documentSize(state.strokes),
      /** What to tell the annotator about the server's limits: null, or {level: 'near' | 'full', message}. */
      limit: (state, getters) => (state.draft ? limitNotice(getters.size) : null),
      /** The open draft as a plain object (IndexedDB cannot clone Vue's proxies); spreading the proxy keeps the getter reactive. */
      currentDraft: (state) => {
        if (!state.draft) return null;
        const draft = { ...state.draft, strokes: state.strokes };
        draft.image = toRaw(draft.image);
        draft.conflict = toRaw(draft.conflict);
        if (draft.full) draft.full = toRaw(draft.full);
        return draft;
      },
    },
    mutations: {
      setDataset(state, datasetId) {
        state.datasetId = Number(datasetId);
      },
      setLoading(state, loading) {
        state.loading = loading;
      },
      setError(state, error) {
        state.error = error;
      },
      open(state, draft) {
        const { strokes, ...meta } = draft;
        state.draft = meta;
        state.strokes = markRaw(strokes);
        state.past = markRaw([]);
        state.future = markRaw([]);
        state.undoCount = 0;
        state.redoCount = 0;
        state.notice = null;
        state.loadSeq += 1;
      },
      close(state) {
        state.draft = null;
        state.strokes = markRaw([]);
      },
      pushStroke(state, op) {
        state.strokes = markRaw([...state.strokes, op.stroke]);
        state.past.push(op);
        if (state.past.length > MAX_UNDO) state.past.shift();
        state.future = markRaw([]);
        state.undoCount = state.past.length;
        state.redoCount = 0;
        touch(state);
      },
      clear(state, op) {
        op.strokes = state.strokes;
        state.strokes = markRaw([]);
        state.past.push(op);
        state.future = markRaw([]);
        state.undoCount = state.past.length;
        state.redoCount = 0;
        touch(state);
      },
      undo(state, op) {
        state.past.pop();
        state.strokes = markRaw(op.type === 'add' ? state.strokes.slice(0, -1) : op.strokes);
        state.future.push(op);
        state.undoCount = state.past.length;
        state.redoCount = state.future.length;
        touch(state);
      },
      redo(state, op) {
        state.future.pop();
        state.strokes = markRaw(op.type === 'add' ? [...state.strokes, op.stroke] : []);
        state.past.push(op);
        state.undoCount = state.past.length;
        state.redoCount = state.future.length;
        touch(state);
      },
      setLabel(state, label) {
        state.draft.label = label;
        touch(state);
      },
      setText(state, text) {
        state.draft.text = text;
        touch(state);
      },
      setStatus(state, status) {
        state.draft.status = status;
        touch(state);
      },
      setArea(state, area) {
        state.area = area;
      },
      setNotice(state, notice) {
        state.notice = notice;
      },
      setSynced(state, { version, rev }) {
        state.draft.baseVersion = version;
        if (rev !== null && rev !== undefined) state.draft.syncedRev = Math.max(state.draft.syncedRev, rev);
      },
      setConflict(state, current) {
        state.draft.conflict = current ? markRaw(current) : null;
      },
      addActive(state, ms) {
        if (state.draft) state.draft.activeMs += ms;
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
      setFull(state, full) {
        state.draft.full = full;
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
    },
    actions: {
      /** Load what the dataset's navigation needs: the annotator's history, and the images leased ahead (kept offline). */
      async openDataset({ commit, rootState, state }, datasetId) {
        if (state.datasetId === Number(datasetId) && state.history.length) return;
        commit('setDataset', datasetId);
        commit('setBanner', null);
        const userId = rootState.auth.user.id;
        commit('setAhead', JSON.parse(storage().getItem(`${AHEAD_KEY}${userId}.${Number(datasetId)}`) || '[]'));
        const local = (await drafts.list(userId)).filter((d) => d.datasetId === Number(datasetId) && (isDirty(d) || d.status));
        let server = [];
        try {
          server = await api.annotations.history(datasetId);
        } catch (error) {
          if (!error.isNetwork) throw error;
        }
        const entries = new Map();
        for (const a of server) entries.set(a.image, { imageId: a.image, status: a.status, startedAt: a.started_at });
        for (const d of local) {
          if (!entries.has(d.imageId) && d.strokes.length + (d.label ? 1 : 0) + (d.text ? 1 : 0) > 0) {
            entries.set(d.imageId, { imageId: d.imageId, status: d.status, startedAt: d.startedAt });
          } else if (entries.has(d.imageId) && isDirty(d)) entries.get(d.imageId).status = d.status;
        }
        const history = [...entries.values()].sort((a, b) => String(a.startedAt).localeCompare(String(b.startedAt)));
        commit('setHistory', history.map(({ imageId, status }) => ({ imageId, status })));
      },

      /** Open an image: unsent local work wins over the server's copy (a conflict is found when it is sent). */
      async openImage({ commit, rootState, state }, { datasetId, imageId }) {
        commit('setLoading', true);
        commit('setError', null);
        try {
          const userId = rootState.auth.user.id;
          const key = draftKey(userId, imageId);
          const local = await drafts.get(key);
          let image = null;
          let server = null;
          try {
            [image, server] = await Promise.all([api.images.get(imageId), api.images.annotation(imageId)]);
          } catch (error) {
            if (!error.isNetwork) throw error;
          }
          if (image) image = { id: image.id, width: image.width, height: image.height, short_id: image.short_id, file_url: image.file_url };
          let draft;
          if (local && (isDirty(local) || local.conflict)) draft = { ...local, image: image || local.image };
          else if (server) {
            draft = draftFromServer(server, { userId, datasetId: Number(datasetId), image });
            if (local) draft.localRev = draft.syncedRev = local.localRev;
          } else if (local) draft = local;
          else {
            const known = state.ahead.find((i) => i.id === Number(imageId));
            if (!known) throw new Error('This image is not available offline; reconnect to open it.');
            draft = draftFromServer({}, { userId, datasetId: Number(datasetId), image: known });
          }
          commit('open', draft);
        } catch (error) {
          commit('close');
          commit('setError', error.message);
          throw error;
        } finally {
          commit('setLoading', false);
        }
      },

      /** Return the id of the image to work on when entering a dataset, or null when it is done. */
      async firstImage({ commit, state, dispatch }, datasetId) {
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
      },

      noteProgress({ commit, state }, progress) {
        if (!progress) return;
        commit('setProgress', progress);
        commit('datasets/setProgress', { datasetId: state.datasetId, progress }, { root: true });
      },

      /** Take in an answer of `next` or `skip`: progress, and the images leased ahead (kept offline, their files fetched). */
      noteHandout({ commit, dispatch, state, rootState }, body) {
        // The server answered: whatever waits for it goes now, not when its back-off runs out.
        if (this.$sync && rootState.sync.status === 'offline') this.$sync.retryNow();
        dispatch('noteProgress', body.progress);
        const images = queueOf(body);
        commit('setAhead', images);
        try {
          storage().setItem(`${AHEAD_KEY}${rootState.auth.user.id}.${state.datasetId}`, JSON.stringify(images));
        } catch {
          // storage full or refused: the list still serves this page
        }
        dispatch('prefetchAhead');
      },

      /** Fetch the files of the images leased ahead, once per page load, so the service worker keeps them. */
      prefetchAhead({ state }) {
        for (const image of state.ahead) {
          if (!prefetched.has(image.file_url)) {
            prefetched.add(image.file_url);
            api.images.prefetch(image);
          }
        }
      },

      /** The first image leased ahead that the annotator has not touched. */
      offlineNext({ state }) {
        return firstOpen(state.ahead, state.history, state.draft ? state.draft.imageId : null);
      },

      /**
       * Skip the open image with a reason and return where to go (an image id or 'done'). Refused
       * with OFFLINE_SKIP while the server cannot be reached: only it can give the image to others.
       */
      async skip({ commit, state, dispatch }, reason) {
        const { imageId, key } = state.draft;
        if (!reason || !reason.trim()) throw new Error('Say why you skip this image.');
        // Send the drawing first, so a save arriving after the skip does not take the image back.
        await this.$sync.flush(key, 6000).catch(() => {});
        let body;
        try {
          body = await api.images.skip(imageId, reason.trim());
        } catch (error) {
          throw error.isNetwork ? new Error(OFFLINE_SKIP) : error;
        }
        if (isDirty(state.draft)) commit('setSynced', { version: state.draft.baseVersion, rev: state.draft.localRev });
        commit('setHistoryStatus', { imageId, status: 'skipped' });
        commit('setResumed', null);
        await dispatch('noteHandout', body);
        if (!body.image) return 'done';
        return firstOpen(state.ahead, state.history, imageId) ?? 'done';
      },

      /** A draft was refused with 409 image_full: keep it here, say so (the page then moves on from the open image). */
      noteFull({ commit, state }, { draft, rev, current }) {
        if (current) commit('setFull', { rev });
        commit('setHistoryStatus', { imageId: draft.imageId, status: 'full' });
        const id = draft.image && draft.image.short_id ? ` #${draft.image.short_id}` : '';
        commit(
          'setBanner',
          `Image${id} already has all the annotators it needs, so your work on it was not sent; it stays in this browser.` +
            (current ? ' Here is the next image.' : ''),
        );
      },

      /** Return where to go from an open image that is full: the server's next image, else one leased ahead. */
      async leaveFull({ state, dispatch }) {
        try {
          const next = await api.datasets.next(state.datasetId);
          await dispatch('noteHandout', next);
          if (!next.image) return 'done';
        } catch (error) {
          if (!error.isNetwork) throw error;
        }
        return (await dispatch('offlineNext')) ?? 'done';
      },

      /**
       * Add a drawn stroke; return false, changing nothing, if the document would then hold more
       * than the server accepts (the canvas checks before it commits, so this is the last guard:
       * a document the server refuses would block every later save of the image).
       */
      addStroke({ commit, dispatch, getters }, op) {
        if (!fitsInDocument(getters.size, op.stroke)) return false;
        commit('pushStroke', op);
        dispatch('afterEdit');
        return true;
      },
      clear({ commit, state, dispatch }) {
        if (!state.strokes.length) return;
        commit('clear', { type: 'clear' });
        dispatch('afterEdit');
      },
      undo({ commit, state, dispatch }) {
        const op = state.past[state.past.length - 1];
        if (!op) return;
        commit('undo', op);
        dispatch('afterEdit');
      },
      redo({ commit, state, dispatch }) {
        const op = state.future[state.future.length - 1];
        if (!op) return;
        commit('redo', op);
        dispatch('afterEdit');
      },
      chooseLabel({ commit, state, dispatch }, label) {
        commit('setLabel', state.draft.label === label ? null : label);
        dispatch('afterEdit');
      },
      typeText({ commit, dispatch }, text) {
        commit('setText', text);
        dispatch('afterEdit');
      },
      /** A submitted image that loses a required part goes back to draft (the server would refuse it). */
      afterEdit({ commit, state, getters }) {
        if (state.draft.status === 'submitted' && getters.missing.length) commit('setStatus', 'draft');
        if (state.notice && !getters.missing.length) commit('setNotice', null);
        if (state.strokes.length || state.draft.label || state.draft.text) {
          commit('markInHistory', { imageId: state.draft.imageId, status: state.draft.status });
        }
      },

      /**
       * Submit the open image if complete and return where to go: an image id, 'done', or null
       * (stay: something required is missing, and the notice says what).
       */
      async next({ commit, state, getters, dispatch }) {
        const missing = getters.missing;
        if (missing.length) {
          commit('setNotice', `To go on, ${missing.join(', ')}.`);
          return null;
        }
        commit('setNotice', null);
        if (state.draft.status !== 'submitted') commit('setStatus', 'submitted');
        commit('markInHistory', { imageId: state.draft.imageId, status: 'submitted' });
        const i = getters.index;
        if (i < state.history.length - 1) return state.history[i + 1].imageId;
        const current = state.draft.imageId;
        try {
          await this.$sync.flush(state.draft.key, 6000); // the server must know before it picks the next one
        } catch {
          // offline or refused: the draft stays queued; go on with the look-ahead
        }
        commit('setResumed', null);
        try {
          const next = await api.datasets.next(state.datasetId);
          await dispatch('noteHandout', next);
          if (!next.image) return 'done';
          const done = state.history.find((h) => h.imageId === next.image.id && h.status !== 'draft');
          if (next.image.id !== current && !done) return next.image.id;
        } catch (error) {
          if (!error.isNetwork) throw error;
        }
        // The server could not be asked, or did not know yet what was done here: the images leased ahead.
        const offline = firstOpen(state.ahead, state.history, current);
        return offline === null ? 'done' : offline;
      },

      /** Resolve a conflict by saving this tab's version over the stored one (kept by the server as a revision). */
      keepMine({ commit, state }) {
        const { conflict, key } = state.draft;
        if (!conflict) return;
        commit('setSynced', { version: conflict.version, rev: null });
        commit('setConflict', null);
        this.$sync.resolved(key);
      },

      /** Resolve a conflict by taking the stored version and dropping this tab's unsent changes. */
      async useTheirs({ commit, state }) {
        const { conflict, key, userId, datasetId, image, localRev } = state.draft;
        if (!conflict) return;
        const draft = draftFromServer(conflict, { userId, datasetId, image });
        draft.localRev = draft.syncedRev = localRev + 1;
        commit('open', draft);
        await this.$persistNow();
        this.$sync.resolved(key);
      },

      /** Return the image before the open one in the annotator's own sequence, or null. */
      previous({ state, getters }) {
        const i = getters.index;
        return i > 0 ? state.history[i - 1].imageId : null;
      },
    },
  };
}
