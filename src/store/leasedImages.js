/**
 * What the app keeps in localStorage per annotator and dataset so that, after a reload while the
 * server is away, the Annotate page still knows where it is: the images the server leased ahead
 * (where Next goes on), the annotator's history of the dataset as the server last told it (where
 * Previous goes back, and the open image's place), and the progress (the total of "Image k of n").
 */

const PREFIX = 'eyetagger.ahead.';
const HISTORY = 'eyetagger.history.';
const PROGRESS = 'eyetagger.progress.';

/** localStorage, or a stand-in where there is none (tests in Node). */
function storage() {
  return typeof localStorage === 'undefined' ? { getItem: () => null, setItem: () => {} } : localStorage;
}

function read(prefix, userId, datasetId, fallback) {
  try {
    return JSON.parse(storage().getItem(`${prefix}${userId}.${Number(datasetId)}`)) ?? fallback;
  } catch {
    return fallback; // an unreadable entry: the server's next answer replaces it
  }
}

function keep(prefix, userId, datasetId, value) {
  try {
    storage().setItem(`${prefix}${userId}.${Number(datasetId)}`, JSON.stringify(value));
  } catch {
    // storage full or refused: the value still serves this page
  }
}

/** Return the images last leased to this annotator on this dataset, in queue order ([] if none). */
export const readLeased = (userId, datasetId) => read(PREFIX, userId, datasetId, []);

/** Keep the images leased ahead; a full or refused storage keeps them for this page only. */
export const keepLeased = (userId, datasetId, images) => keep(PREFIX, userId, datasetId, images);

/** Return the annotator's annotations of the dataset as the server last listed them ([] if never). */
export const readHistory = (userId, datasetId) => read(HISTORY, userId, datasetId, []);

/** Keep the server's list of the annotator's annotations of the dataset ([{image, status, started_at}]). */
export const keepHistory = (userId, datasetId, history) =>
  keep(HISTORY, userId, datasetId, history.map((a) => ({ image: a.image, status: a.status, started_at: a.started_at })));

/** Return the annotator's progress on the dataset as the server last told it, or null. */
export const readProgress = (userId, datasetId) => read(PROGRESS, userId, datasetId, null);

/** Keep the annotator's progress on the dataset. */
export const keepProgress = (userId, datasetId, progress) => keep(PROGRESS, userId, datasetId, progress);
