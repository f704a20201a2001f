import { describe, expect, it } from 'vitest';
import { clockLevel, formatClock, secondsLeft } from './clock.js';

describe('the clock', () => {
  it('counts whole seconds left, never below zero', () => {
    expect(secondsLeft(10_500, 0)).toBe(11);
    expect(secondsLeft('2027-01-01T00:00:10Z', Date.parse('2027-01-01T00:00:00Z'))).toBe(10);
    expect(secondsLeft(0, 5000)).toBe(0);
    expect(secondsLeft(null)).toBe(null);
  });
  it.each([[0, '0:00'], [65, '1:05'], [3725, '1:02:05'], [-3, '0:00']])('shows %s s as %s', (seconds, text) => {
    expect(formatClock(seconds)).toBe(text);
  });
  it('warns in the last fifth of the time or the last minute', () => {
    expect(clockLevel(100, 120)).toBe('ok');
    expect(clockLevel(20, 120)).toBe('low');
    expect(clockLevel(59, 3600)).toBe('low');
    expect(clockLevel(0, 120)).toBe('up');
    expect(clockLevel(null, 120)).toBe('ok');
  });
});
