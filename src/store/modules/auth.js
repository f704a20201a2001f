/**
 * Who is signed in. The last user is remembered in localStorage so that a reload while
 * offline still opens the app (and their unsent work) instead of a sign-in page.
 *
 * state: { user: null | {id, username, role, ...}, checked: boolean, offline: boolean }
 */

import { markRaw } from 'vue';
import { forgetOfflineCopies } from '../../services/offlineCopies.js';

const REMEMBERED = 'eyetagger.user';

function remembered() {
  try {
    return JSON.parse(localStorage.getItem(REMEMBERED) || 'null');
  } catch {
    return null; // a corrupt entry: ask the server
  }
}

export function createAuthModule(api) {
  return {
    namespaced: true,
    state: () => ({ user: null, checked: false, offline: false }),
    getters: {
      signedIn: (state) => !!state.user,
    },
    mutations: {
      setUser(state, user) {
        state.user = user ? markRaw(user) : null;
        state.checked = true;
      },
      setOffline(state, offline) {
        state.offline = offline;
      },
    },
    actions: {
      /** Ask the server who is signed in; offline, trust the last answer. */
      async check({ commit }) {
        try {
          const user = await api.auth.me();
          localStorage.setItem(REMEMBERED, JSON.stringify(user));
          commit('setOffline', false);
          commit('setUser', user);
        } catch (error) {
          if (error.isNetwork) {
            commit('setOffline', true);
            commit('setUser', remembered());
          } else {
            localStorage.removeItem(REMEMBERED);
            commit('setUser', null);
          }
        }
      },
      async login({ commit }, { username, password }) {
        const user = await api.auth.login(username, password);
        localStorage.setItem(REMEMBERED, JSON.stringify(user));
        commit('setOffline', false);
        commit('setUser', user);
        return user;
      },
      async logout({ commit }) {
        try {
          await api.auth.logout();
        } catch (error) {
          if (!error.isAuth) throw error; // already signed out is fine
        }
        localStorage.removeItem(REMEMBERED);
        await forgetOfflineCopies(); // the next person at this computer must not see them offline
        commit('setUser', null);
      },
    },
  };
}
