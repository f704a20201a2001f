/** How the Review page writes figures: durations, shares, dates. */

/** Return a duration in ms as people say it: "850 ms", "12.4 s", "3 min 05 s", "1 h 02 min". */
export function formatDuration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s`;
  const total = Math.round(seconds);
  if (total < 3600) return `${Math.floor(total / 60)} min ${String(total % 60).padStart(2, '0')} s`;
  const minutes = Math.round(total / 60);
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
}

/** Return a replay clock: "0:07", "12:30". */
export function formatClock(ms) {
  const total = Math.max(0, Math.floor((ms || 0) / 1000));
  return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, '0')}`;
}

/** Return a fraction 0..1 as a percentage ("87%"), or a dash when it is unknown. */
export function formatPercent(value, digits = 0) {
  return value === null || value === undefined || Number.isNaN(value) ? '—' : `${(value * 100).toFixed(digits)}%`;
}

/** Return a number with `digits` decimals, or a dash when it is unknown. */
export function formatNumber(value, digits = 2) {
  return value === null || value === undefined || Number.isNaN(value) ? '—' : Number(value).toFixed(digits);
}

/** Return an ISO date-time in the reader's locale, or a dash. */
export function formatDateTime(iso) {
  if (!iso) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? '—' : date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** Return an image's path as people know it: relative to the dataset's images/ folder (as COCO's file_name). */
export function displayName(path) {
  return (path || '').replace(/^images\//, '');
}

const IMPORTED_STROKES = {
  svg: 'its strokes are the original SVG’s, corrected along pixel edges to its PNG',
  png: 'its strokes trace the original PNG’s mask along pixel edges',
  'svg only': 'its strokes are the original SVG’s (it kept no PNG)',
  none: 'nothing was drawn',
};

/**
 * Return what an annotation imported from the original EyeTagger says about itself, or null: its
 * client info (`imported_from`, `original_id`, `strokes_from`), as `import_original` writes it.
 */
export function importedFrom(client) {
  if (!client || client.imported_from !== 'original-eyetagger') return null;
  const how = IMPORTED_STROKES[client.strokes_from] || 'its strokes were recovered';
  return `Imported from the original EyeTagger (its row ${client.original_id}): the mask is the one it stored; ${how}.`;
}
