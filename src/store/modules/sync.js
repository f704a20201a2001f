/**
 * What the sync plugin reports, for the save-state indicator and the conflict dialog.
 *
 * state: { status: 'saved' | 'saving' | 'offline' | 'error' | 'conflict' | 'signed-out',
 *          waiting: number (drafts not yet on the server), message: string | null }
 */

export function createSyncModule() {
  return {
    namespaced: true,
    state: () => ({ status: 'saved', waiting: 0, message: null }),
    mutations: {
      setStatus(state, { status, waiting, message }) {
        state.status = status;
        state.waiting = waiting;
        state.message = message;
      },
    },
  };
}
