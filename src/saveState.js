/**
 * The words of the save-state indicator in the top bar, from what the sync plugin reports.
 *
 * Work waiting is counted in images, not in changes: every save sends an image's whole
 * document, so ten strokes and a sentence typed offline are one request, and a count of
 * changes would climb with every keystroke while meaning nothing more.
 */

/** Return "1 image" or "n images". */
export function images(n) {
  return `${n} ${n === 1 ? 'image' : 'images'}`;
}

/** Return {label, title} for the indicator: the short words, and a sentence for its tooltip. */
export function saveStateText({ status, waiting, message }) {
  const kept = `Your changes to ${images(waiting)} are kept in this browser`;
  switch (status) {
    case 'saving':
      return { label: 'Saving…', title: 'Sending your changes to the server' };
    case 'offline':
      return { label: `Offline — ${images(waiting)} not sent yet`, title: `${kept} and sent as soon as the server answers.` };
    case 'signed-out':
      return { label: `Sign in to save — ${images(waiting)} not sent yet`, title: `${kept}; sign in again to send them.` };
    case 'conflict':
      return { label: 'Changed elsewhere — choose a version', title: message || '' };
    case 'error':
      return { label: `Not saved — ${message || 'refused by the server'}`, title: message || '' };
    default:
      return { label: 'Saved', title: 'Everything is on the server' };
  }
}
