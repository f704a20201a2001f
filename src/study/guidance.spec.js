import { describe, expect, it } from 'vitest';
import { decisionWords, guidanceShown, toggleGuidance } from './guidance.js';

describe('the guidance toggles', () => {
  it('start shown and flip with each toggle, each logged with its time', () => {
    expect(guidanceShown([])).toBe(true);
    const once = toggleGuidance([], 1200.4);
    expect(once).toEqual([{ t: 1200, shown: false }]);
    const twice = toggleGuidance(once, 3000);
    expect(twice).toEqual([{ t: 1200, shown: false }, { t: 3000, shown: true }]);
    expect(guidanceShown(twice)).toBe(true);
    expect(once).toHaveLength(1); // a new array: the draft's log is replaced, not mutated
  });
});

describe('decisionWords', () => {
  it('says what the AI decided and how sure it was', () => {
    expect(decisionWords({ ai_label: 'fake', ai_confidence: 0.934 })).toBe('AI: fake (confidence 93%)');
    expect(decisionWords({ ai_label: 'real' })).toBe('AI: real');
    expect(decisionWords({ ai_label: null })).toBe('AI: no decision');
    expect(decisionWords({ placement: 'over' })).toBe(null);
  });
});
