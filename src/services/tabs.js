/**
 * Tell the app's other tabs in this browser what the server stored, so a tab whose open image
 * was saved over by another does not go on saying "Saved" over a mask the server no longer
 * holds (BroadcastChannel: same origin, same browser; other devices are caught by the server's
 * 409 at their next save).
 */

const CHANNEL = 'eyetagger-saves';

/**
 * Return {announce(message), listen(fn), close()}; a stand-in that does nothing where the
 * browser has no BroadcastChannel (tests in Node, very old browsers).
 */
export function createTabChannel(Channel = globalThis.BroadcastChannel) {
  if (typeof Channel !== 'function') return { announce() {}, listen() {}, close() {} };
  const channel = new Channel(CHANNEL);
  return {
    /** Tell the other tabs: {key, version, json}, the document stored as `version`. */
    announce: (message) => channel.postMessage(message),
    /** Hear what the other tabs announce (never this tab's own). */
    listen: (fn) => channel.addEventListener('message', (event) => fn(event.data)),
    close: () => channel.close(),
  };
}
