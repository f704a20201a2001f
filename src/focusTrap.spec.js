import { describe, expect, it } from 'vitest';
import { nextInCycle } from './focusTrap.js';

describe('nextInCycle', () => {
  const [a, b, c] = ['a', 'b', 'c'];
  it.each([
    ['Tab on the last control goes to the first', c, false, a],
    ['Shift+Tab on the first goes to the last', a, true, c],
    ['Tab in the middle is left to the browser', a, false, null],
    ['Shift+Tab in the middle is left to the browser', b, true, null],
    ['Tab from outside the dialog comes to its first', 'outside', false, a],
    ['Shift+Tab from outside comes to its last', 'outside', true, c],
  ])('%s', (_what, active, backwards, expected) => {
    expect(nextInCycle([a, b, c], active, backwards)).toBe(expected);
  });

  it('leaves focus alone in a dialog with nothing to focus', () => {
    expect(nextInCycle([], 'x', false)).toBeNull();
  });
});
