import { describe, expect, it } from 'vitest';
import { DEFAULTS, filtersFromQuery, filtersToQuery, inIouRange } from './filters.js';

describe('Review filters', () => {
  it('reads the defaults from an empty query and writes them back as nothing', () => {
    expect(filtersFromQuery({})).toEqual(DEFAULTS);
    expect(filtersToQuery(DEFAULTS)).toEqual({});
  });

  it('round-trips every filter through the route query', () => {
    const filters = { status: 'all', test: true, label: 'fake', correct: 'false', sort: 'accuracy', dir: 'desc', iou: [0.5, 0.6], iouBy: 'images' };
    expect(filtersFromQuery(filtersToQuery(filters))).toEqual(filters);
  });

  it('ignores values it does not know instead of sending them to the API', () => {
    expect(filtersFromQuery({ status: 'deleted', correct: 'maybe', dir: 'up', test: 'yes' })).toEqual(DEFAULTS);
    for (const iou of ['0.6-0.5', '0.5-1.5', 'all', '-0.1-0.2', '0.5']) expect(filtersFromQuery({ iou }).iou).toBeNull();
  });

  it('keeps the histogram’s IoU range in the address, by pairs unless it says images', () => {
    expect(filtersToQuery({ ...DEFAULTS, iou: [0.9, 1] })).toEqual({ iou: '0.9-1' });
    expect(filtersFromQuery({ iou: '0.9-1' })).toMatchObject({ iou: [0.9, 1], iouBy: 'pairs' });
  });
});

describe('inIouRange', () => {
  const image = { iou: { mean: 0.55 }, pair_ious: [0.2, 0.9] };
  it.each([
    [[0.5, 0.6], 'images', true],
    [[0.5, 0.6], 'pairs', false], // no pair there, though the mean is
    [[0.2, 0.3], 'pairs', true],
    [[0.1, 0.2], 'pairs', false], // the bin's upper edge belongs to the next bin
    [[0.9, 1], 'pairs', true],
  ])('range %j by %s: %s', (range, by, inside) => {
    expect(inIouRange(image, range, by)).toBe(inside);
  });

  it('counts 1 in the last bin', () => {
    expect(inIouRange({ iou: { mean: 1 }, pair_ious: [1] }, [0.9, 1], 'pairs')).toBe(true);
    expect(inIouRange({ iou: { mean: 1 } }, [0.9, 1], 'images')).toBe(true);
  });
});
