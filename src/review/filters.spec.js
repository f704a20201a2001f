import { describe, expect, it } from 'vitest';
import { DEFAULTS, filtersFromQuery, filtersToQuery, selectionParams, withSelection } from './filters.js';

describe('Review filters', () => {
  it('reads the defaults from an empty query and writes them back as nothing', () => {
    expect(filtersFromQuery({})).toEqual(DEFAULTS);
    expect(filtersToQuery(DEFAULTS)).toEqual({});
  });

  it('round-trips every filter through the route query', () => {
    const filters = { status: 'all', test: true, label: 'fake', correct: 'false', sort: 'accuracy', dir: 'desc' };
    expect(filtersFromQuery(filtersToQuery(filters))).toEqual(filters);
  });

  it('ignores values it does not know instead of sending them to the API', () => {
    expect(filtersFromQuery({ status: 'deleted', correct: 'maybe', dir: 'up', test: 'yes' })).toEqual(DEFAULTS);
  });

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
