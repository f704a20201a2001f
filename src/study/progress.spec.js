import { describe, expect, it } from 'vitest';
import { progressSegments, progressWords } from './progress.js';

const steps = [
  { index: 0, kind: 'consent', title: 'Consent', units: 1 },
  { index: 1, kind: 'practice', title: 'Practice', units: 2 },
  { index: 2, kind: 'annotation', title: 'Part 1', units: 6 },
  { index: 3, kind: 'finish', title: 'Thank you', units: 1 },
];

describe('progressSegments', () => {
  it('gives each step its share of the study and fills the ones done', () => {
    const segments = progressSegments({ steps, index: 2, progress: { done: 5, total: 10 }, participant: { status: 'active' } });
    expect(segments.map((s) => s.share)).toEqual([0.1, 0.2, 0.6, 0.1]);
    expect(segments.map((s) => s.fill)).toEqual([1, 1, 2 / 6, 0]);
    expect(segments.map((s) => s.current)).toEqual([false, false, true, false]);
  });
  it('fills every segment once the participant finished', () => {
    const segments = progressSegments({ steps, index: 3, progress: { done: 10, total: 10 }, participant: { status: 'completed' } });
    expect(segments.every((s) => s.fill === 1 && !s.current)).toBe(true);
  });
  it('has nothing to show before the state is known', () => {
    expect(progressSegments(null)).toEqual([]);
  });
});

describe('progressWords', () => {
  it('says the percentage done', () => {
    expect(progressWords({ done: 3, total: 9 })).toEqual({ percent: 33, label: '33% of the study done' });
    expect(progressWords(null).percent).toBe(0);
  });
});
