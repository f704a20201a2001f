import { beforeEach, describe, expect, it, vi } from 'vitest';
import { createStore } from 'vuex';
import { ApiError } from '../../api/client.js';
import { fakeLocalStorage } from '../testing.js';
import { createStudyModule } from './study.js';

const state = (index, extra = {}) => ({
  study: { slug: 'iris', title: 'Irises', status: 'open' },
  participant: { pseudonym: 'P-1', status: 'active' },
  steps: [{ index: 0, kind: 'consent', title: 'Consent', units: 1 }, { index: 1, kind: 'practice', title: 'Practice', units: 2 }],
  index,
  current: index === 0 ? { id: 10, kind: 'consent' } : { id: 11, kind: 'practice' },
  progress: { done: index, total: 3 },
  completion: null,
  ...extra,
});
const trial = (id, position) => ({ id, step: 11, position, practice: true, status: 'open', image: { id: 100 + id }, guidance: null });

function make(participation) {
  const auth = { namespaced: true, state: () => ({ user: { id: 1, role: 'participant' } }), actions: { check: () => {} } };
  return createStore({ modules: { auth, study: createStudyModule({ participation }) } });
}

beforeEach(() => vi.stubGlobal('localStorage', fakeLocalStorage()));

describe('arriving by the link', () => {
  it('comes back to the participation the browser has when the link names no one', async () => {
    const participation = { state: vi.fn(async () => state(1)), enrol: vi.fn() };
    const store = make(participation);
    await store.dispatch('study/enter', { slug: 'iris', params: {} });
    expect(participation.enrol).not.toHaveBeenCalled();
    expect(store.state.study.state.index).toBe(1);
  });

  it('enrols when the browser is no participant yet, or the link names one', async () => {
    const participation = { state: vi.fn(async () => { throw new ApiError(403, { code: 'not_authenticated' }); }), enrol: vi.fn(async () => state(0)) };
    const store = make(participation);
    await store.dispatch('study/enter', { slug: 'iris', params: {} });
    expect(participation.enrol).toHaveBeenCalledWith('iris', {});
    await store.dispatch('study/enter', { slug: 'iris', params: { PROLIFIC_PID: 'x' } });
    expect(participation.enrol).toHaveBeenLastCalledWith('iris', { PROLIFIC_PID: 'x' });
    expect(participation.state).toHaveBeenCalledTimes(1);
  });

  it('keeps the server\'s refusal for the page to show', async () => {
    const refusal = new ApiError(409, { code: 'study_full', detail: 'This study has all the participants it needs.' });
    const store = make({ state: vi.fn(), enrol: vi.fn(async () => { throw refusal; }) });
    await store.dispatch('study/enter', { slug: 'iris', params: { PROLIFIC_PID: 'x' } });
    expect(store.state.study.refusal).toEqual({ code: 'study_full', detail: 'This study has all the participants it needs.', status: 409 });
  });

  it('shows what this browser kept when the server cannot be reached', async () => {
    const online = make({ state: vi.fn(async () => state(1)), trials: vi.fn(async () => ({ trials: [trial(1, 1), trial(2, 2)], finished: false, progress: { done: 1, total: 3 } })) });
    await online.dispatch('study/enter', { slug: 'iris', params: {} });
    await online.dispatch('study/loadTrials');
    await online.dispatch('study/finishTrial', 101);
    const offline = make({ state: vi.fn(async () => { throw new ApiError(0, null); }) });
    await offline.dispatch('study/enter', { slug: 'iris', params: {} });
    expect(offline.state.study.offline).toBe(true);
    expect(offline.getters['study/open'].map((t) => t.id)).toEqual([2]);
  });
});

describe('the steps', () => {
  it('declining ends the participation', async () => {
    const store = make({ state: vi.fn(async () => state(0)), completeStep: vi.fn(async () => ({ declined: true })) });
    await store.dispatch('study/enter', { slug: 'iris', params: {} });
    await store.dispatch('study/completeStep', { agree: false });
    expect(store.state.study.ended).toBe('declined');
    expect(localStorage.getItem('eyetagger.study.iris')).toBe(null);
  });

  it('a step done in another tab catches up instead of failing', async () => {
    const participation = {
      state: vi.fn().mockResolvedValueOnce(state(0)).mockResolvedValueOnce(state(1)),
      completeStep: vi.fn(async () => { throw new ApiError(409, { code: 'step_done' }); }),
    };
    const store = make(participation);
    await store.dispatch('study/enter', { slug: 'iris', params: {} });
    await store.dispatch('study/completeStep', {});
    expect(store.state.study.state.index).toBe(1);
  });

  it('a step\'s images are merged with those known, in order, and forgotten when the step changes', async () => {
    const participation = {
      state: vi.fn().mockResolvedValueOnce(state(1)).mockResolvedValueOnce(state(2, { current: { id: 12, kind: 'finish' } })),
      trials: vi.fn()
        .mockResolvedValueOnce({ trials: [trial(2, 2), trial(1, 1)], finished: false, progress: { done: 1, total: 3 } })
        .mockResolvedValueOnce({ trials: [trial(3, 3)], finished: false, progress: { done: 2, total: 3 } }),
    };
    const store = make(participation);
    await store.dispatch('study/enter', { slug: 'iris', params: {} });
    await store.dispatch('study/loadTrials');
    await store.dispatch('study/loadTrials');
    expect(store.state.study.trials.map((t) => t.id)).toEqual([1, 2, 3]);
    expect(store.state.study.state.progress.done).toBe(2);
    await store.dispatch('study/refresh');
    expect(store.state.study.trials).toEqual([]);
  });
});

describe('answers out of order', () => {
  it('drops a state that was asked for before a step was completed but answered after', async () => {
    let answerRefresh;
    const participation = {
      state: vi.fn()
        .mockResolvedValueOnce(state(0))
        .mockImplementationOnce(() => new Promise((resolve) => (answerRefresh = () => resolve(state(0))))),
      completeStep: vi.fn(async () => state(1)),
    };
    const store = make(participation);
    await store.dispatch('study/enter', { slug: 'iris', params: {} });
    const refresh = store.dispatch('study/refresh'); // sent first...
    await store.dispatch('study/completeStep', { agree: true, version: 'v1' });
    answerRefresh(); // ...answered last
    await refresh;
    expect(store.state.study.state.index).toBe(1);
  });
});
