/**
 * The strokes document of one image as the app keeps it (a "draft"), and its two encodings:
 * the JSON the server takes (docs/strokes.md) and the packed form kept in
 * IndexedDB. Both are cached per stroke, so saving a document of a thousand strokes costs a
 * join of cached pieces, not a re-encoding of every point.
 *
 * A draft: {key, userId, datasetId, imageId, image, strokes, label, text, status,
 *           baseVersion, localRev, syncedRev, startedAt, activeMs, updatedAt, conflict, full?,
 *           guidanceEvents?, timedOut?}   // the last two on a study participant's images only
 * localRev counts local changes; syncedRev is the localRev the server has; baseVersion is the
 * server version the local content was based on. Dirty (unsent work) means localRev > syncedRev.
 */

import { strokeInk } from './canvas/geometry/ink.js';

export { strokeInk };

const jsonOf = new WeakMap();
const packedOf = new WeakMap();
// Drafts made from the server's answer, as made: their content is what the server holds at their version.
const fromServer = new WeakSet();

export function draftKey(userId, imageId) {
  return `${userId}:${imageId}`;
}

export function isDirty(draft) {
  return !!draft && draft.localRev > draft.syncedRev;
}

/**
 * Return the draft's {baseVersion, syncedRev} once the server has stored it as `version` up to
 * local revision `rev` (null: only the version is new, e.g. a save of ours whose answer was lost).
 */
export function acknowledged(draft, { version, rev }) {
  return { baseVersion: version, syncedRev: rev === null || rev === undefined ? draft.syncedRev : Math.max(draft.syncedRev, rev) };
}

/** Return the stroke as JSON text, cached (strokes are never mutated once committed). */
export function strokeJson(stroke) {
  let text = jsonOf.get(stroke);
  if (text === undefined) {
    text = JSON.stringify({ tool: stroke.tool, width: stroke.width, points: stroke.points });
    jsonOf.set(stroke, text);
  }
  return text;
}

/** Return the request body of PUT /api/images/{id}/annotation/ for this draft. */
export function documentJson(draft, client) {
  const strokes = draft.strokes.map(strokeJson).join(',');
  const rest = {
    label: draft.label,
    text: draft.text,
    status: draft.status,
    version: draft.baseVersion,
    active_ms: Math.round(draft.activeMs || 0),
  };
  if (draft.startedAt) rest.started_at = draft.startedAt;
  if (client) rest.client = client;
  // A study participant's image also carries every toggle of the AI's guidance, and whether its time ran out.
  if (draft.guidanceEvents && draft.guidanceEvents.length) rest.guidance_events = draft.guidanceEvents;
  if (draft.timedOut) rest.timed_out = true;
  return `{"strokes":[${strokes}],${JSON.stringify(rest).slice(1)}`;
}

/** Return a string that is equal for two documents exactly when their content is (what makes a version). */
export function contentKey(doc) {
  const strokes = doc.strokes.map(strokeJson).join(',');
  return `[${strokes}]|${JSON.stringify([doc.label ?? null, doc.text ?? '', doc.status ?? 'draft'])}`;
}

/** Return the stroke with its points in one Float64Array: fast to store in IndexedDB. */
export function packStroke(stroke) {
  let packed = packedOf.get(stroke);
  if (!packed) {
    const points = new Float64Array(stroke.points.length * 4);
    stroke.points.forEach((p, k) => points.set(p, k * 4));
    packed = { tool: stroke.tool, width: stroke.width, points };
    packedOf.set(stroke, packed);
  }
  return packed;
}

export function unpackStroke(packed) {
  const points = [];
  const flat = packed.points;
  for (let k = 0; k < flat.length; k += 4) points.push([flat[k], flat[k + 1], flat[k + 2], flat[k + 3]]);
  const stroke = { tool: packed.tool, width: packed.width, points };
  packedOf.set(stroke, packed);
  return stroke;
}

/** Return a draft made from the server's annotation of an image (version 0: none yet). */
export function draftFromServer(annotation, { userId, datasetId, image }) {
  const draft = {
    key: draftKey(userId, image.id),
    userId,
    datasetId,
    imageId: image.id,
    image,
    strokes: annotation.strokes || [],
    label: annotation.label ?? null,
    text: annotation.text || '',
    status: annotation.status || 'draft',
    baseVersion: annotation.version || 0,
    localRev: 0,
    syncedRev: 0,
    startedAt: annotation.started_at || new Date().toISOString(),
    activeMs: annotation.active_ms || 0,
    updatedAt: Date.now(),
    conflict: null,
    ...(annotation.guidance_events ? { guidanceEvents: annotation.guidance_events } : {}),
  };
  fromServer.add(draft);
  return draft;
}

/** Return whether this very draft object was made from the server's answer (its content is the server's at its version). */
export function isFromServer(draft) {
  return fromServer.has(draft);
}

/**
 * Return what the server holds as the draft now stands, at `version`: what a later change is computed from.
 * On a participant's image also the guidance's toggles it holds (none known: an answer that does not say,
 * such as a conflict's, so the next change sends them all again).
 */
export function serverCopy(doc, version) {
  const copy = { version, strokes: doc.strokes, label: doc.label ?? null, text: doc.text ?? '', status: doc.status ?? 'draft' };
  if (doc.guidanceEvents) copy.guidanceEvents = doc.guidanceEvents;
  return copy;
}

/** Return how many strokes two lists share from the start (the same objects, or the same JSON). */
function sharedPrefix(a, b) {
  const n = Math.min(a.length, b.length);
  let k = 0;
  while (k < n && (a[k] === b[k] || strokeJson(a[k]) === strokeJson(b[k]))) k++;
  return k;
}

/** Return the ink of strokes on the draft's image (see canvas/geometry/ink.js). */
function inkOf(strokes, draft) {
  const height = draft.image ? draft.image.height : Infinity;
  let ink = 0;
  for (const stroke of strokes) ink += strokeInk(stroke, height);
  return ink;
}

/**
 * Return what to send of the draft now, so that no request paints more than `maxInk`: the draft
 * itself when what it appends to `base` (the server's copy, see serverCopy; null when unknown:
 * counted from no strokes) fits, else a part of it. A part keeps the strokes `base` keeps, then
 * the longest run of the appended strokes that fits (at least one: a stroke too big alone is
 * sent, and refused, on its own), with `base`'s answer, text and status (the draft's, as a draft,
 * when there is no base): what changed in those goes with the last part. Once a part is stored
 * the draft is still dirty, and the next part is sent from there. Every part is a document the
 * server may hold: each save leaves a consistent version.
 */
export function partToSend(base, draft, maxInk) {
  const kept = base ? sharedPrefix(base.strokes, draft.strokes) : 0;
  const height = draft.image ? draft.image.height : Infinity;
  let ink = 0;
  let end = kept;
  while (end < draft.strokes.length) {
    ink += strokeInk(draft.strokes[end], height);
    if (ink > maxInk) break;
    end++;
  }
  if (end === draft.strokes.length) return draft;
  end = Math.max(end, kept + 1);
  if (end === draft.strokes.length) return draft; // one stroke too big alone: sent, and refused, as it is
  const fields = base ? { label: base.label, text: base.text, status: base.status } : { status: 'draft' };
  return { ...draft, ...fields, strokes: draft.strokes.slice(0, end), timedOut: false };
}

/**
 * Return the request body of PATCH /api/images/{id}/annotation/ taking the server's copy `base`
 * (see serverCopy) to the draft: strokes removed from the end, strokes appended, and the answer,
 * text and status that changed (docs/strokes.md, "Incremental saves"); on a study participant's
 * image (PATCH /api/participation/images/{id}/annotation/) also the guidance's toggles when they
 * changed (the whole log, as the PUT sends it) and the time-out once it ran out. Return null when the
 * appended strokes hold more ink than one change may paint (a single stroke too big, as
 * partToSend leaves it): the whole document is sent instead, which the server refuses saying so.
 */
export function changeJson(base, draft, { client, op, maxInk }) {
  const kept = sharedPrefix(base.strokes, draft.strokes);
  const append = draft.strokes.slice(kept);
  if (inkOf(append, draft) > maxInk) return null;
  const rest = { version: base.version, remove: base.strokes.length - kept, op, active_ms: Math.round(draft.activeMs || 0) };
  if ((draft.label ?? null) !== base.label) rest.label = draft.label ?? null;
  if ((draft.text ?? '') !== base.text) rest.text = draft.text ?? '';
  if ((draft.status ?? 'draft') !== base.status) rest.status = draft.status ?? 'draft';
  if (draft.startedAt && base.version === 0) rest.started_at = draft.startedAt;
  if (client) rest.client = client;
  if (guidanceChanged(base, draft)) rest.guidance_events = draft.guidanceEvents;
  if (draft.timedOut) rest.timed_out = true;
  return `{"append":[${append.map(strokeJson).join(',')}],${JSON.stringify(rest).slice(1)}`;
}

/** Return whether the draft holds guidance toggles that the server's copy `base` does not know it holds. */
function guidanceChanged(base, draft) {
  const events = draft.guidanceEvents;
  if (!events || !events.length) return false;
  const known = base.guidanceEvents;
  return !known || known.length !== events.length || known.some((e, k) => e.t !== events[k].t || e.shown !== events[k].shown);
}
