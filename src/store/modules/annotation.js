/**
 * The open image's annotation, the document being edited: its strokes with their undo and
 * redo, its answer and text, and what the server said of it (the version it has, a conflict,
 * an image already full). Where the annotator goes from image to image is ./navigation.js.
 *
 * state: {
 *   draft: null | {key, userId, datasetId, imageId, image: {id, width, height, short_id, file_url},
 *                  label, text, status, baseVersion, localRev, syncedRev, startedAt, activeMs,
 *                  updatedAt, conflict, full?},  // everything of the draft but its strokes
 *   strokes: Stroke[],       // markRaw, replaced (never mutated) on each change
 *   edits: History | null,   // markRaw: undo and redo with the mask they paint (canvas/history.js, canvas/mask.js)
 *   undoCount, redoCount,    // steps to undo and redo, reactive for the buttons
 *   loadSeq: number,         // bumped when a new document is loaded (the canvas repaints all of its mask)
 *   area: number,            // pixels set in the mask
 *   notice: string | null,   // what is missing before the image counts as submitted
 * }
 *
 * Mutations are small synchronous verbs; the persistence plugin writes the draft to IndexedDB
 * after each one that changes content, and the sync plugin sends it in the background.
 */

import { markRaw, toRaw } from 'vue';
import { History } from '../../canvas/history.js';
import { Mask } from '../../canvas/mask.js';
import { limitNotice } from '../../limitNotice.js';
import { documentSize, fitsInDocument } from '../../limits.js';
import { draftFromServer } from '../document.js';
import { withServices } from '../withServices.js';

export const CONTENT_MUTATIONS = new Set([
  'annotation/pushStroke',
  'annotation/clear',
  'annotation/undo',
  'annotation/redo',
  'annotation/setLabel',
  'annotation/setText',
  'annotation/setStatus',
]);

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

function touch(state) {
  state.draft.localRev += 1;
  state.draft.updatedAt = Date.now();
}

/** Put the strokes an edit left in place; the counts, the area and the revision follow. */
function edited(state, strokes) {
  state.strokes = markRaw(strokes);
  state.undoCount = state.edits.undoCount;
  state.redoCount = state.edits.redoCount;
  state.area = state.edits.mask.area;
  touch(state);
}

const state = () => ({
  draft: null,
  strokes: markRaw([]),
  edits: null,
  undoCount: 0,
  redoCount: 0,
  loadSeq: 0,
  area: 0,
  notice: null,
});

const getters = {
  /** The dataset of the open document. */
  dataset: (state, _getters, _rootState, rootGetters) => (state.draft ? rootGetters['datasets/byId'](state.draft.datasetId) : null),
  missing: (state, getters) =>
    state.draft ? missingParts(getters.dataset, { label: state.draft.label, text: state.draft.text, area: state.area }) : [],
  /** {strokes, points} the open document holds (state.strokes is replaced on each change, so this stays cached between). */
  size: (state) => documentSize(state.strokes),
  /** The open document's Mask (what the canvas paints), or null. */
  mask: (state) => (state.edits ? state.edits.mask : null),
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
};

const mutations = {
  /** Open a document: `edits` is a new History on the mask of its strokes. */
  open(state, { draft, edits }) {
    const { strokes, ...meta } = draft;
    state.draft = meta;
    state.strokes = markRaw(strokes);
    state.edits = markRaw(edits);
    state.undoCount = 0;
    state.redoCount = 0;
    state.area = edits.mask.area;
    state.notice = null;
    state.loadSeq += 1;
  },
  close(state) {
    state.draft = null;
    state.strokes = markRaw([]);
    state.edits = null;
  },
  /** Add a stroke; `delta` holds its pixels when it was painted as it was drawn, else it is painted now. */
  pushStroke(state, { stroke, delta }) {
    edited(state, state.edits.add(state.strokes, stroke, delta));
  },
  /** Flip back the pixels of a drawn stroke the document refused. */
  discardStroke(state, delta) {
    state.edits.discard(delta);
    state.area = state.edits.mask.area;
  },
  clear(state) {
    edited(state, state.edits.clear(state.strokes));
  },
  undo(state) {
    edited(state, state.edits.undo(state.strokes));
  },
  redo(state) {
    edited(state, state.edits.redo(state.strokes));
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
  setFull(state, full) {
    state.draft.full = full;
  },
  addActive(state, ms) {
    if (state.draft) state.draft.activeMs += ms;
  },
};

/** Open a document for editing: its mask is rasterized here, once (every later change is a delta). */
function load(_services, { commit }, draft) {
  commit('open', { draft, edits: new History(new Mask(draft.image.width, draft.image.height, draft.strokes)) });
}

/**
 * Add a stroke ({stroke, delta?}, see pushStroke); return false, changing nothing, if the
 * document would then hold more than the server accepts (the drawing checks before it hands a
 * stroke on, so this is the last guard: a document the server refuses would block every later
 * save of the image).
 */
function addStroke(_services, { commit, dispatch, getters }, { stroke, delta }) {
  if (!fitsInDocument(getters.size, stroke)) {
    if (delta) commit('discardStroke', delta);
    return false;
  }
  commit('pushStroke', { stroke, delta });
  dispatch('afterEdit');
  return true;
}

function clear(_services, { commit, state, dispatch }) {
  if (!state.strokes.length) return;
  commit('clear');
  dispatch('afterEdit');
}

function undo(_services, { commit, state, dispatch }) {
  if (!state.undoCount) return;
  commit('undo');
  dispatch('afterEdit');
}

function redo(_services, { commit, state, dispatch }) {
  if (!state.redoCount) return;
  commit('redo');
  dispatch('afterEdit');
}

function chooseLabel(_services, { commit, state, dispatch }, label) {
  commit('setLabel', state.draft.label === label ? null : label);
  dispatch('afterEdit');
}

function typeText(_services, { commit, dispatch }, text) {
  commit('setText', text);
  dispatch('afterEdit');
}

/** A submitted image that loses a required part goes back to draft (the server would refuse it). */
function afterEdit(_services, { commit, state, getters }) {
  if (state.draft.status === 'submitted' && getters.missing.length) commit('setStatus', 'draft');
  if (state.notice && !getters.missing.length) commit('setNotice', null);
  if (state.strokes.length || state.draft.label || state.draft.text) {
    commit('navigation/markInHistory', { imageId: state.draft.imageId, status: state.draft.status }, { root: true });
  }
}

/** Mark the open image submitted if it is complete and return true; else say what is missing and return false. */
function submit(_services, { commit, state, getters }) {
  const missing = getters.missing;
  if (missing.length) {
    commit('setNotice', `To go on, ${missing.join(', ')}.`);
    return false;
  }
  commit('setNotice', null);
  if (state.draft.status !== 'submitted') commit('setStatus', 'submitted');
  return true;
}

/** Resolve a conflict by saving this tab's version over the stored one (kept by the server as a revision). */
function keepMine(_services, { commit, state }) {
  const { conflict, key } = state.draft;
  if (!conflict) return;
  commit('setSynced', { version: conflict.version, rev: null });
  commit('setConflict', null);
  this.$sync.resolved(key);
}

/** Resolve a conflict by taking the stored version and dropping this tab's unsent changes. */
async function useTheirs(_services, { dispatch, state }) {
  const { conflict, key, userId, datasetId, image, localRev } = state.draft;
  if (!conflict) return;
  const draft = draftFromServer(conflict, { userId, datasetId, image });
  draft.localRev = draft.syncedRev = localRev + 1;
  await dispatch('load', draft);
  await this.$persistNow();
  this.$sync.resolved(key);
}

const actions = { load, addStroke, clear, undo, redo, chooseLabel, typeText, afterEdit, submit, keepMine, useTheirs };

export function createAnnotationModule(services) {
  return { namespaced: true, state, getters, mutations, actions: withServices(services, actions) };
}
