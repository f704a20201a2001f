/**
 * Hooks a benchmark installs to time the app from inside (bench/run.js sets them through
 * `window.__eyetagger.probes`). None is installed in normal use, and the app pays one check
 * where each would be called.
 *
 * frame({started, ended, since}): a frame of drawing painted; `started` and `ended` bound its
 * work (performance.now()), `since` is the time of the oldest pointer sample it shows
 * (performance.timeOrigin-based, as pointer events' times are), or null.
 */
export const probes = { frame: null };
