import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../review/filters.js';
import { selectionParams, withSelection } from './selection.js';

describe('the research API’s selection', () => {
  it('maps the filters onto the API’s selection parameters', () => {
    const params = selectionParams({ status: 'draft', test: true, label: 'real', correct: 'true' });
    expect(params.toString()).toBe('status=draft&include_test=true&label=real&correct=true');
  });

  it('sends nothing for the API’s own defaults', () => {
    expect(selectionParams(DEFAULTS).toString()).toBe('');
    expect(withSelection('/api/datasets/1/stats/', DEFAULTS)).toBe('/api/datasets/1/stats/');
  });

  it('adds extra parameters after the selection, escaping them', () => {
    expect(withSelection('/x', { ...DEFAULTS, label: 'a&b' }, { format: 'csv', sigma: null })).toBe('/x?label=a%26b&format=csv');
  });
});
