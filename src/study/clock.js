/** Time limits as a participant reads them: a countdown, and whether time is nearly up. */

/** Return the whole seconds left until `deadline` (a Date, an ISO string or ms), never below 0; null without one. */
export function secondsLeft(deadline, now = Date.now()) {
  if (deadline === null || deadline === undefined) return null;
  const end = typeof deadline === 'number' ? deadline : new Date(deadline).getTime();
  return Math.max(0, Math.ceil((end - now) / 1000));
}

/** Return seconds as a clock: "4:05", "1:02:09". */
export function formatClock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}

/** Return 'ok', 'low' (a fifth of the time or a minute left, whichever is less) or 'up'. */
export function clockLevel(seconds, total) {
  if (seconds === null) return 'ok';
  if (seconds <= 0) return 'up';
  return seconds <= Math.min(60, (total || 0) / 5) ? 'low' : 'ok';
}
