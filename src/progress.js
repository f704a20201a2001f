/** How the annotator's progress reads in the top bar and on the dataset cards. */

/** Return time spent as a person says it: "under a minute", "14 min", "2 h 05 min" (`short`: "<1 min"). */
export function formatSpent(ms, { short = false } = {}) {
  const minutes = Math.floor((ms || 0) / 60000);
  if (minutes < 1) return short ? '<1 min' : 'under a minute';
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
}

/** Return the parts of a progress to show: {done, total, skipped, spent, spentShort}, zeros when there is none yet. */
export function progressParts(progress, fallbackTotal = 0) {
  const p = progress || {};
  return {
    done: p.done || 0,
    total: p.total ?? fallbackTotal,
    skipped: p.skipped || 0,
    spent: formatSpent(p.active_ms),
    spentShort: formatSpent(p.active_ms, { short: true }),
  };
}
