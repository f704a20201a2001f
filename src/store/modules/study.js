/**
 * A study participant's participation: the study, their steps, where they are, and the images
 * of their current step. The server decides everything (which step, which image); this module
 * keeps its last answer, in localStorage too, so a reload without a network still shows the
 * step and the images handed out ahead (their drafts are the annotation module's, in IndexedDB).
 *
 * state: {
 *   slug: string | null,
 *   state: null | {study, participant, steps, index, current, progress, completion}, // GET participation/
 *   trials: [{id, step, position, practice, status, image: {id, width, height, file_url}, guidance}],
 *   finished: number[],    // image ids of the step finished in this browser (sent, or waiting to be)
 *   refusal: null | {code, detail, status},   // the server refused the participant (closed, full, a bad link...)
 *   ended: null | 'declined' | 'withdrawn' | 'deleted',   // they left: nothing more to show but a message
 *   offline: boolean,                          // the last answer came from this browser, not the server
 *   busy: boolean,
 * }
 */

const SAVED = 'eyetagger.study.';
/** Images handed out ahead of the one on screen: what a participant goes on with while the server is away. */
export const AHEAD = 5;

function storage() {
  return typeof localStorage === 'undefined' ? { getItem: () => null, setItem: () => {}, removeItem: () => {} } : localStorage;
}

function remember(slug, data) {
  try {
    storage().setItem(SAVED + slug, JSON.stringify(data));
  } catch {
    // storage full or refused: the page still has it
  }
}

function remembered(slug) {
  try {
    return JSON.parse(storage().getItem(SAVED + slug) || 'null');
  } catch {
    return null; // a corrupt entry: ask the server
  }
}

/** Return {code, detail, status} of a refusal the participant should read (not a network failure). */
function refusalOf(error) {
  return { code: error.code || 'error', detail: error.message, status: error.status };
}

/**
 * participation: the API (src/api/participation.js); prefetch(image): fetch a file so the service
 * worker keeps it for offline work (src/api images.prefetch); sync: the sync service (main.js).
 */
export function createStudyModule({ participation, prefetch = () => {}, sync = null }) {
  const prefetched = new Set();
  // Answers about the participation can arrive out of order (a refresh sent before a step was
  // completed, answered after): each request is numbered, and an answer older than one applied is dropped.
  let sent = 0;
  let applied = 0;
  /** Send `request`; resolve to its answer, or to null when a newer answer was applied meanwhile. */
  async function latest(request) {
    const number = ++sent;
    const answer = await request();
    if (number < applied) return null;
    applied = number;
    return answer;
  }
  return {
    namespaced: true,
    state: () => ({ slug: null, state: null, trials: [], finished: [], refusal: null, ended: null, offline: false, busy: false }),
    getters: {
      current: (state) => (state.state ? state.state.current : null),
      /** The step's images still to do here, in order: the first is the one on screen. */
      open: (state) => state.trials.filter((trial) => !state.finished.includes(trial.image.id)),
    },
    mutations: {
      setSlug(state, slug) {
        state.slug = slug;
      },
      setState(state, data) {
        state.state = data;
        state.refusal = null;
      },
      setTrials(state, trials) {
        state.trials = trials;
      },
      setFinished(state, finished) {
        state.finished = finished;
      },
      finish(state, imageId) {
        if (!state.finished.includes(imageId)) state.finished = [...state.finished, imageId];
      },
      setRefusal(state, refusal) {
        state.refusal = refusal;
      },
      setEnded(state, ended) {
        state.ended = ended;
      },
      setOffline(state, offline) {
        state.offline = offline;
      },
      setBusy(state, busy) {
        state.busy = busy;
      },
    },
    actions: {
      /**
       * Arrive by the study link: come back to the participation this browser has (no platform id
       * in the link), else enrol with the link's parameters. Offline, show what this browser kept.
       */
      async enter({ commit, dispatch, rootState }, { slug, params }) {
        commit('setSlug', slug);
        commit('setEnded', null);
        let data = null;
        try {
          if (!Object.keys(params).length) data = await latest(() => participation.state()).catch((error) => {
            if (error.isNetwork) throw error;
            return null; // not a participant yet (401, 403): enrol
          });
          if (!data || data.study.slug !== slug) data = await latest(() => participation.enrol(slug, params));
        } catch (error) {
          if (!error.isNetwork) {
            commit('setRefusal', refusalOf(error));
            return;
          }
          const saved = remembered(slug);
          if (!saved) throw new Error('The study cannot be reached. Check your connection and reload the page.');
          commit('setOffline', true);
          commit('setState', saved.state);
          commit('setTrials', saved.trials || []);
          commit('setFinished', saved.finished || []);
          return;
        }
        commit('setOffline', false);
        await dispatch('noteState', data);
        // Enrolling signed the browser in as the participant: their drafts are kept under their user.
        if (!rootState.auth.user || rootState.auth.user.role !== 'participant') await dispatch('auth/check', null, { root: true });
      },

      /** Take in the server's state (and forget the images of a step that is over). */
      noteState({ commit, state, dispatch }, data) {
        const stepChanged = !state.state || state.state.index !== data.index;
        commit('setState', data);
        if (stepChanged) {
          commit('setTrials', []);
          commit('setFinished', []);
        }
        dispatch('save');
      },

      /** Keep the last answers in this browser, for a reload while the server cannot be reached. */
      save({ state }) {
        remember(state.slug, { state: state.state, trials: state.trials, finished: state.finished });
      },

      /** Note an image of the step as finished here (its draft is submitted, or its time ran out). */
      finishTrial({ commit, dispatch }, imageId) {
        commit('finish', imageId);
        dispatch('save');
      },

      /** Ask the server for the state again (after the last image of a step was sent, say). */
      async refresh({ commit, dispatch }) {
        try {
          const data = await latest(() => participation.state());
          commit('setOffline', false);
          if (data) await dispatch('noteState', data);
          return true;
        } catch (error) {
          if (error.isNetwork) {
            commit('setOffline', true);
            return false;
          }
          commit('setRefusal', refusalOf(error));
          return false;
        }
      },

      /** Complete the step on screen with its payload; a refusal is thrown for the page to show. */
      async completeStep({ commit, state, dispatch }, payload) {
        commit('setBusy', true);
        try {
          const answer = await latest(() => participation.completeStep(state.state.index, payload));
          if (answer === null) return; // a newer state arrived meanwhile
          if (answer.declined) {
            storage().removeItem(SAVED + state.slug);
            commit('setEnded', 'declined');
            return;
          }
          await dispatch('noteState', answer);
        } catch (error) {
          if (error.code === 'step_done') await dispatch('refresh'); // done in another tab: catch up
          else throw error;
        } finally {
          commit('setBusy', false);
        }
      },

      /** Load the images of the current step: the one to do now and those ahead (kept for offline work). */
      async loadTrials({ commit, state, dispatch }) {
        try {
          const body = await participation.trials(AHEAD);
          commit('setOffline', false);
          // The step is over (the server moved the participant on once it had every image): catch up.
          if (body.finished || body.trials.some((trial) => trial.step !== state.state.current.id)) {
            await dispatch('refresh');
            return;
          }
          const known = new Map(state.trials.map((trial) => [trial.id, trial]));
          for (const trial of body.trials) known.set(trial.id, trial);
          const trials = [...known.values()].filter((trial) => trial.step === state.state.current.id);
          commit('setTrials', trials.sort((a, b) => a.position - b.position));
          // Their files now, so the service worker has them if the connection goes.
          for (const trial of trials) {
            for (const url of [trial.image.file_url, trial.guidance && trial.guidance.ai_saliency_url]) {
              if (url && !prefetched.has(url)) {
                prefetched.add(url);
                prefetch({ file_url: url });
              }
            }
          }
          commit('setState', { ...state.state, progress: body.progress });
          dispatch('save');
        } catch (error) {
          if (error.isNetwork) commit('setOffline', true);
          else if (error.code === 'not_an_images_step') await dispatch('refresh');
          else throw error;
        }
      },

      /**
       * Finish the image on screen: submitted when it holds what the step requires, else (its time
       * ran out) as it stands. Sent now when the server answers; kept in this browser and sent later
       * when not. Return false, changing nothing, when a required part is missing (the notice says what).
       */
      async submitImage({ dispatch, rootState }, { timedOut = false } = {}) {
        if (timedOut) await dispatch('annotation/timeOut', null, { root: true });
        else if (!(await dispatch('annotation/submit', null, { root: true }))) return false;
        const { imageId } = rootState.annotation.draft;
        try {
          await dispatch('annotation/send', 6000, { root: true });
        } catch {
          // offline or slow: the image waits in this browser and is sent when the server answers
        }
        await dispatch('finishTrial', imageId);
        return true;
      },

      /** Send now whatever waits for the server (the step's last images), not when each back-off runs out. */
      retrySending() {
        if (sync) sync.retryNow();
      },

      /** Return the feedback on a submitted practice image, or null when the server cannot be reached. */
      async feedback(_context, imageId) {
        try {
          return await participation.feedback(imageId);
        } catch (error) {
          if (error.isNetwork) return null;
          throw error;
        }
      },

      /** Withdraw from the study; the study's setting decides whether the data was deleted. */
      async withdraw({ commit, state }) {
        const answer = await participation.withdraw();
        storage().removeItem(SAVED + state.slug);
        commit('setEnded', answer.deleted ? 'deleted' : 'withdrawn');
      },
    },
  };
}
