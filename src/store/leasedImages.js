/**
 * The images the server has leased to the annotator ahead of the open one, kept in
 * localStorage per annotator and dataset: after a reload while the server is away, Next still
 * knows where to go.
 */

const PREFIX = 'eyetagger.ahead.';

/** localStorage, or a stand-in where there is none (tests in Node). */
function storage() {
  return typeof localStorage === 'undefined' ? { getItem: () => null, setItem: () => {} } : localStorage;
}

/** Return the images last leased to this annotator on this dataset, in queue order ([] if none). */
export function readLeased(userId, datasetId) {
  try {
    return JSON.parse(storage().getItem(`${PREFIX}${userId}.${Number(datasetId)}`) || '[]');
  } catch {
    return []; // an unreadable entry: the server's next answer replaces it
  }
}

/** Keep the images leased ahead; a full or refused storage keeps them for this page only. */
export function keepLeased(userId, datasetId, images) {
  try {
    storage().setItem(`${PREFIX}${userId}.${Number(datasetId)}`, JSON.stringify(images));
  } catch {
    // storage full or refused: the list still serves this page
  }
}
