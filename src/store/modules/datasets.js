/**
 * The datasets the annotator may work on, each with their progress. The last list is kept in
 * localStorage so the app still shows it offline.
 *
 * state: { list: [{id, name, question, choices, required: {choice, mask, text},
 *                  progress: {done, total}, ...}], loading: boolean, error: string | null }
 */

import { DATASETS_KEY } from '../../services/offlineCopies.js'; // the list kept offline, forgotten on sign-out

export function createDatasetsModule(api) {
  return {
    namespaced: true,
    state: () => ({ list: [], loading: false, error: null }),
    getters: {
      byId: (state) => (id) => state.list.find((d) => d.id === Number(id)) || null,
    },
    mutations: {
      setList(state, list) {
        state.list = list;
      },
      setLoading(state, loading) {
        state.loading = loading;
      },
      setError(state, error) {
        state.error = error;
      },
      setProgress(state, { datasetId, progress }) {
        const dataset = state.list.find((d) => d.id === Number(datasetId));
        if (dataset && progress) dataset.progress = progress;
      },
    },
    actions: {
      async fetch({ commit }) {
        commit('setLoading', true);
        commit('setError', null);
        try {
          const body = await api.datasets.list();
          const list = body.results || body;
          localStorage.setItem(DATASETS_KEY, JSON.stringify(list));
          commit('setList', list);
        } catch (error) {
          if (!error.isNetwork) throw error;
          commit('setList', JSON.parse(localStorage.getItem(DATASETS_KEY) || '[]'));
          commit('setError', 'Offline: showing the list as it was when last online.');
        } finally {
          commit('setLoading', false);
        }
      },
    },
  };
}
