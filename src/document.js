/**
 * The strokes document of one image as the app keeps it (a "draft"), and its two encodings:
 * the JSON the server takes (docs/strokes.md) and the packed form kept in
 * IndexedDB. Both are cached per stroke, so saving a document of a thousand strokes costs a
 * join of cached pieces, not a re-encoding of every point.
 *
 * A draft: {key, userId, datasetId, imageId, image, strokes, label, text, status,
 *           baseVersion, localRev, syncedRev, startedAt, activeMs, updatedAt, conflict, full?}
 * localRev counts local changes; syncedRev is the localRev the server has; baseVersion is the
 * server version the local content was based on. Dirty (unsent work) means localRev > syncedRev.
 */

const jsonOf = new WeakMap();
const packedOf = new WeakMap();

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
  return {
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
  };
}
