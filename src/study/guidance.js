/** The AI's guidance on an image: what the participant's condition shows, and every toggle of it. */

/** Return whether the guidance is shown now: on at first, then as the last toggle left it. */
export function guidanceShown(events) {
  return !events || !events.length ? true : events[events.length - 1].shown;
}

/** Return the toggle log with one more toggle at `t` ms since the image was opened (a new array). */
export function toggleGuidance(events, t) {
  const log = events || [];
  return [...log, { t: Math.max(0, Math.round(t)), shown: !guidanceShown(log) }];
}

/** Return the AI's decision as words: "AI: fake (confidence 93%)". */
export function decisionWords(guidance) {
  if (!guidance || guidance.ai_label === undefined) return null;
  const label = guidance.ai_label === null ? 'no decision' : guidance.ai_label;
  const confidence = typeof guidance.ai_confidence === 'number' ? ` (confidence ${Math.round(guidance.ai_confidence * 100)}%)` : '';
  return `AI: ${label}${confidence}`;
}
