import { describe, expect, it } from 'vitest';
import { DEFAULTS, filtersFromQuery, filtersToQuery } from './filters.js';

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
});
