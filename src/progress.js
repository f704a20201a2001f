/** How the annotator's progress reads in the top bar and on the dataset cards. */

/** Return time spent as a person says it: "under a minute", "14 min", "2 h 05 min" (`short`: "<1 min"). */
export function formatSpent(ms, { short = false } = {}) {
  const minutes = Math.floor((ms || 0) / 60000);
  if (minutes < 1) return short ? '<1 min' : 'under a minute';
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
}

/**
 * Return whether the annotator has finished a dataset: the server's word (`finished`: nothing is
 * left for them, every image expected of them submitted or skipped and none held), or, from a
 * progress without it, every expected image handled. The one definition the datasets page, the
 * top bar and the Done page all show.
 */
export function isFinished(progress) {
  if (!progress) return false;
  if (typeof progress.finished === 'boolean') return progress.finished;
  return progress.total > 0 && (progress.done || 0) + (progress.skipped || 0) >= progress.total;
}

/**
 * Return the parts of a progress to show: {done, total, skipped, handled, percent, finished,
 * spent, spentShort}, zeros when there is none yet. The bar fills with the images handled
 * (submitted or skipped), and is full once finished.
 */
export function progressParts(progress, fallbackTotal = 0) {
  const p = progress || {};
  const done = p.done || 0;
  const skipped = p.skipped || 0;
  const total = p.total ?? fallbackTotal;
  const finished = isFinished(progress);
  const handled = done + skipped;
  return {
    done,
    total,
    skipped,
    handled,
    percent: finished ? 100 : total ? Math.min(100, Math.round((100 * handled) / total)) : 0,
    finished,
    spent: formatSpent(p.active_ms),
    spentShort: formatSpent(p.active_ms, { short: true }),
  };
}
