import { describe, expect, it } from 'vitest';
import { linkParams } from './link.js';

describe('linkParams', () => {
  it('keeps text parameters, the first of repeated ones', () => {
    expect(linkParams({ PROLIFIC_PID: 'abc', STUDY_ID: ['s1', 's2'], empty: '' })).toEqual({ PROLIFIC_PID: 'abc', STUDY_ID: 's1', empty: '' });
  });
  it('drops what is not text', () => {
    expect(linkParams({ a: null, b: [null], c: 'x' })).toEqual({ c: 'x' });
  });
  it('stops past the most the server reads, so the server refuses the link by name', () => {
    const query = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`p${i}`, 'x']));
    expect(Object.keys(linkParams(query))).toHaveLength(31);
  });
});
