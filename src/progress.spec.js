import { describe, expect, it } from 'vitest';
import { formatSpent, isFinished, progressParts } from './progress.js';

describe('formatSpent', () => {
  it.each([
    [0, 'under a minute'],
    [59999, 'under a minute'],
    [60000, '1 min'],
    [14 * 60000 + 59000, '14 min'],
    [125 * 60000, '2 h 05 min'],
    [undefined, 'under a minute'],
  ])('writes %s ms as %s', (ms, text) => {
    expect(formatSpent(ms)).toBe(text);
  });

  it('is shorter for the top bar', () => {
    expect(formatSpent(1000, { short: true })).toBe('<1 min');
    expect(formatSpent(125 * 60000, { short: true })).toBe('2 h 05 min');
  });
});

describe('progressParts', () => {
  it('reads done, total, skipped and time spent from the server’s progress', () => {
    expect(progressParts({ done: 3, total: 12, skipped: 1, in_progress: 2, active_ms: 180000, finished: false })).toEqual({
      done: 3,
      total: 12,
      skipped: 1,
      handled: 4,
      percent: 33,
      finished: false,
      spent: '3 min',
      spentShort: '3 min',
    });
  });

  it('falls back to the dataset’s size before any progress is known', () => {
    expect(progressParts(null, 40)).toEqual({
      done: 0,
      total: 40,
      skipped: 0,
      handled: 0,
      percent: 0,
      finished: false,
      spent: 'under a minute',
      spentShort: '<1 min',
    });
  });

  it('shows a dataset finished with a skip as finished, with a full bar', () => {
    const parts = progressParts({ done: 11, skipped: 1, in_progress: 0, total: 12, active_ms: 0, finished: true });
    expect(parts).toMatchObject({ done: 11, skipped: 1, handled: 12, percent: 100, finished: true });
  });
});

describe('isFinished', () => {
  it.each([
    [{ done: 11, skipped: 1, total: 12, finished: true }, true],
    [{ done: 11, skipped: 1, total: 12 }, true], // no word from the server: every image handled
    [{ done: 12, skipped: 0, total: 12, finished: false }, false], // the server's word wins (an image still held)
    [{ done: 3, skipped: 0, total: 12 }, false],
    [{ done: 0, skipped: 0, total: 0 }, false],
    [null, false],
  ])('reads %j as finished: %s', (progress, finished) => {
    expect(isFinished(progress)).toBe(finished);
  });
});
