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
 * Mutations are small synchronous verbs. Actions are the annotator's intents; each one that
 * changes the content hands the draft as it then stands, once, to persistence (IndexedDB) and
 * to the sync service (the server), which main.js creates and passes in. What the server says
 * of a draft comes back through noteSaved, noteConflict and noteFull.
 */

import { markRaw, toRaw } from 'vue';
import { History } from '../../canvas/history.js';
import { Mask } from '../../canvas/mask.js';
import { limitNotice } from '../../limitNotice.js';
import { LIMITS, documentSize, fitsInDocument } from '../../limits.js';
import { acknowledged, contentKey, draftFromServer, isDirty } from '../../document.js';
import { withServices } from '../withServices.js';

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
function replaceStrokes(state, strokes) {
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
    if (draft.guidanceEvents) draft.guidanceEvents = toRaw(draft.guidanceEvents);
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
    replaceStrokes(state, state.edits.add(state.strokes, stroke, delta));
  },
  /** Flip back the pixels of a drawn stroke the document refused. */
  discardStroke(state, delta) {
    state.edits.discard(delta);
    state.area = state.edits.mask.area;
  },
  clear(state) {
    replaceStrokes(state, state.edits.clear(state.strokes));
  },
  undo(state) {
    replaceStrokes(state, state.edits.undo(state.strokes));
  },
  redo(state) {
    replaceStrokes(state, state.edits.redo(state.strokes));
  },
  /** A study participant toggled the AI's guidance: the whole log so far (src/study/guidance.js). */
  setGuidanceEvents(state, events) {
    // Plain objects (never Vue's proxies): the draft goes to IndexedDB, which cannot clone a proxy.
    state.draft.guidanceEvents = events.map(({ t, shown }) => ({ t, shown }));
    touch(state);
  },
  /** The image's time limit ran out: it is sent as it stands, and finished. */
  setTimedOut(state) {
    state.draft.timedOut = true;
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
  setNotice(state, notice) {
    state.notice = notice;
  },
  /** The server has the draft as `version` up to local revision `rev` (null: only the version is new). */
  setSynced(state, ack) {
    Object.assign(state.draft, acknowledged(state.draft, ack));
  },
  /** The content is to be sent again as it stands (keeping it over a version stored elsewhere). */
  markChanged(state) {
    touch(state);
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

/** Keep the open draft, as it now stands, in IndexedDB (its sync state changed, not its content). */
function keep({ persistence }, getters) {
  return persistence.save(getters.currentDraft);
}

/**
 * After each edit of the content: a submitted image that lost a required part goes back to
 * draft (the server would refuse it), the image joins the annotator's history, and the change
 * is kept and handed to the sync service, once.
 */
function edited(services, { commit, state, getters }) {
  if (state.draft.status === 'submitted' && getters.missing.length) commit('setStatus', 'draft');
  if (state.notice && !getters.missing.length) commit('setNotice', null);
  if (state.strokes.length || state.draft.label || state.draft.text) {
    commit('navigation/markInHistory', { imageId: state.draft.imageId, status: state.draft.status }, { root: true });
  }
  keep(services, getters);
  services.sync.enqueue(getters.currentDraft);
}

/** Open a document for editing: its mask is rasterized here, once (every later change is a delta). */
function load(services, { commit, state }, draft) {
  // Each image starts with the brush: an eraser carried over from the last image would make
  // the first stroke on an empty mask silently do nothing.
  if (!state.draft || state.draft.imageId !== draft.imageId) commit('tools/setTool', 'brush', { root: true });
  services.sync.opened(draft);
  commit('open', { draft, edits: new History(new Mask(draft.image.width, draft.image.height, draft.strokes)) });
}

/**
 * Add a stroke ({stroke, delta?}, see pushStroke); return false, changing nothing, if the
 * document would then hold more than the server accepts (the drawing checks before it hands a
 * stroke on, so this is the last guard: a document the server refuses would block every later
 * save of the image).
 */
function addStroke(services, context, { stroke, delta }) {
  if (!fitsInDocument(context.getters.size, stroke)) {
    if (delta) context.commit('discardStroke', delta);
    return false;
  }
  context.commit('pushStroke', { stroke, delta });
  edited(services, context);
  return true;
}

function clear(services, context) {
  if (!context.state.strokes.length) return;
  context.commit('clear');
  edited(services, context);
}

function undo(services, context) {
  if (!context.state.undoCount) return;
  context.commit('undo');
  edited(services, context);
}

function redo(services, context) {
  if (!context.state.redoCount) return;
  context.commit('redo');
  edited(services, context);
}

function chooseLabel(services, context, label) {
  context.commit('setLabel', context.state.draft.label === label ? null : label);
  edited(services, context);
}

function typeText(services, context, text) {
  context.commit('setText', text);
  edited(services, context);
}

/** Mark the open image submitted if it is complete and return true; else say what is missing and return false. */
function submit(services, context) {
  const { commit, state, getters } = context;
  const missing = getters.missing;
  if (missing.length) {
    commit('setNotice', `To go on, ${missing.join(', ')}.`);
    return false;
  }
  commit('setNotice', null);
  if (state.draft.status !== 'submitted') {
    commit('setStatus', 'submitted');
    edited(services, context);
  }
  return true;
}

/** Log a toggle of the AI's guidance on the open image (a study participant's): `events` is the whole log so far. */
function logGuidance(services, context, events) {
  context.commit('setGuidanceEvents', events);
  edited(services, context);
}

/** The open image's time limit ran out: it finishes as it stands, submitted if it holds what is required. */
function timeOut(services, context) {
  const { commit, state, getters } = context;
  commit('setNotice', null);
  commit('setTimedOut');
  if (!getters.missing.length && state.draft.status !== 'submitted') commit('setStatus', 'submitted');
  edited(services, context);
}

/** Send the open draft now if it waits; resolve once the server has it (reject after timeoutMs or on failure). */
function send({ sync }, { getters }, timeoutMs) {
  const draft = getters.currentDraft;
  return draft ? sync.flush(draft, timeoutMs) : undefined;
}

/** The open image was skipped: its unsent changes are not to be sent (the server gives it to someone else). */
function dropUnsent(services, { commit, state, getters }) {
  if (!isDirty(state.draft)) return;
  commit('setSynced', { version: state.draft.baseVersion, rev: state.draft.localRev });
  keep(services, getters);
  services.sync.resolved(getters.currentDraft);
}

/** Resolve a conflict by saving this tab's version over the stored one (kept by the server as a revision). */
function keepMine(services, { commit, state, getters }) {
  const { conflict } = state.draft;
  if (!conflict) return;
  commit('setSynced', { version: conflict.version, rev: null });
  commit('setConflict', null);
  // A tab with nothing unsent (told by another tab of its save) must still send its version.
  if (!isDirty(state.draft)) commit('markChanged');
  keep(services, getters);
  services.sync.resolved(getters.currentDraft);
}

/**
 * Resolve a conflict by keeping both: the stored version's strokes drawn after this tab's (its
 * answer and text where this tab has none), saved over the stored one. Refused, changing
 * nothing, when the two together pass the server's limits.
 */
async function keepBoth(services, { commit, dispatch, state, getters }) {
  const { conflict } = state.draft;
  if (!conflict) return false;
  const strokes = [...state.strokes, ...(conflict.strokes || [])];
  const size = documentSize(strokes);
  if (size.strokes > LIMITS.maxStrokes || size.points > LIMITS.maxPoints) {
    commit('setNotice', 'Both versions together have more strokes or points than an annotation may hold: keep one of them.');
    return false;
  }
  const mine = getters.currentDraft;
  const draft = {
    ...mine,
    strokes,
    label: mine.label ?? conflict.label ?? null,
    text: mine.text || conflict.text || '',
    baseVersion: conflict.version,
    localRev: mine.localRev + 1, // newer than anything sent: it goes to the server
    conflict: null,
    updatedAt: Date.now(),
  };
  await dispatch('load', draft);
  edited(services, { commit, state, getters });
  services.sync.resolved(getters.currentDraft);
  return true;
}

/**
 * Another tab of this browser stored `json` as `version` of draft `key`. If that is the open
 * image and newer than what this tab knows: the same content only moves the version on; other
 * content is a conflict, shown as the server's 409 would show it (never "Saved" over it).
 */
async function noteStoredElsewhere(services, { commit, state, getters }, { key, version, json }) {
  if (!isOpen(state, key) || version <= state.draft.baseVersion) return;
  const current = { ...JSON.parse(json), version };
  if (contentKey(current) === contentKey(getters.currentDraft)) {
    commit('setSynced', { version, rev: isDirty(state.draft) ? null : state.draft.localRev });
  } else {
    commit('setConflict', current);
    services.sync.conflicted(key, current);
  }
  await keep(services, getters);
}

/** Resolve a conflict by taking the stored version and dropping this tab's unsent changes. */
async function useTheirs(services, { dispatch, state, getters }) {
  const { conflict, userId, datasetId, image, localRev } = state.draft;
  if (!conflict) return;
  const draft = draftFromServer(conflict, { userId, datasetId, image });
  draft.localRev = draft.syncedRev = localRev + 1;
  await dispatch('load', draft);
  await keep(services, getters);
  services.sync.resolved(getters.currentDraft);
}

/** Return whether `key` is the open draft's. */
const isOpen = (state, key) => !!state.draft && state.draft.key === key;

/** Change a stored draft that is not open here (the server answered about it). */
async function updateStored(drafts, key, change) {
  const draft = await drafts.get(key);
  if (draft) await drafts.put({ ...draft, ...change(draft) });
}

/** The sync service says the server stored a draft as `version` up to local revision `rev`. */
async function noteSaved(services, { commit, state, getters }, { key, version, rev }) {
  if (!isOpen(state, key)) return updateStored(services.drafts, key, (d) => acknowledged(d, { version, rev }));
  commit('setSynced', { version, rev });
  return keep(services, getters);
}

/** The sync service says another tab or device changed a draft: `current` is the stored version, kept for the annotator's choice. */
async function noteConflict(services, { commit, state, getters }, { key, current }) {
  if (!isOpen(state, key)) return updateStored(services.drafts, key, () => ({ conflict: current }));
  commit('setConflict', current);
  return keep(services, getters);
}

/** The sync service says the server refused a draft at revision `rev`: its image has every annotator it needs. */
async function noteFull(services, { commit, dispatch, state, getters }, { draft, rev }) {
  const open = isOpen(state, draft.key);
  if (open) {
    commit('setFull', { rev });
    keep(services, getters);
  } else await updateStored(services.drafts, draft.key, () => ({ full: { rev } }));
  await dispatch('navigation/noteFull', { draft, current: open }, { root: true });
}

const actions = {
  load, addStroke, clear, undo, redo, chooseLabel, typeText, submit, logGuidance, timeOut, send, dropUnsent, keepMine,
  keepBoth, useTheirs, noteSaved, noteConflict, noteStoredElsewhere, noteFull,
};

/** Return the module; services: {drafts, persistence, sync}, created in main.js. */
export function createAnnotationModule(services) {
  return { namespaced: true, state, getters, mutations, actions: withServices(services, actions) };
}
