/** The study's progress bar: every step a segment, as long as its share of the whole study. */

/**
 * Return the segments of the bar: [{index, title, kind, units, share (0..1 of the whole), fill (0..1 of
 * the segment done), current}], from the participation state's steps, index and progress.
 */
export function progressSegments(state) {
  if (!state || !state.steps || !state.steps.length) return [];
  const total = state.steps.reduce((sum, step) => sum + step.units, 0) || 1;
  const finished = state.participant && state.participant.status === 'completed';
  let before = 0;
  return state.steps.map((step) => {
    const start = before;
    before += step.units;
    let fill;
    if (finished || step.index < state.index) fill = 1;
    else if (step.index > state.index) fill = 0;
    else fill = Math.max(0, Math.min(1, (state.progress.done - start) / step.units));
    return { index: step.index, title: step.title, kind: step.kind, units: step.units, share: step.units / total, fill, current: step.index === state.index && !finished };
  });
}

/** Return the whole study's progress as a whole percentage, and as words for screen readers. */
export function progressWords(progress) {
  const percent = progress && progress.total ? Math.round((100 * progress.done) / progress.total) : 0;
  return { percent, label: `${percent}% of the study done` };
}
