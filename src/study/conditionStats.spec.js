import { describe, expect, it } from 'vitest';
import { conditionRows, figure, imageChoices, mapUrl, pairRows } from './conditionStats.js';

const STATS = {
  images: 2,
  conditions: [
    { condition: 'no-help', masks: 5, split_half_r: 0.8123, images_with_split_half: 2, iou: 0.5, dice: 0.6667 },
    { condition: '', masks: 1, split_half_r: null, images_with_split_half: 0, iou: null, dice: null },
  ],
  pairs: [{ a: 'no-help', b: 'ai-map', images: 2, cc: 0.25, kl_a_b: 1.5, kl_b_a: 0.125 }],
  per_image: [
    { image: 7, conditions: [{ condition: 'no-help', masks: 1 }] },
    { image: 3, conditions: [{ condition: 'no-help', masks: 2 }, { condition: 'ai-map', masks: 2 }] },
    { image: 9, conditions: [{ condition: 'no-help', masks: 1 }, { condition: '', masks: 1 }] },
  ],
};

describe('the saliency panel of the study dashboard', () => {
  it('shows figures with two decimals and a dash for none', () => {
    expect([figure(0.8123), figure(1), figure(null), figure(undefined), figure(Number.NaN)]).toEqual(['0.81', '1.00', '—', '—', '—']);
  });

  it('has a row per condition with masks, split-half, IoU and Dice', () => {
    expect(conditionRows(STATS)).toEqual([
      { condition: 'no-help', name: 'no-help', cells: [5, 2, '0.81', '0.50', '0.67'] },
      { condition: '', name: '(none)', cells: [1, 0, '—', '—', '—'] },
    ]);
    expect(conditionRows(null)).toEqual([]);
  });

  it('has a row per pair of conditions with CC and KL both ways', () => {
    expect(pairRows(STATS)).toEqual([{ key: 'no-help|ai-map', name: 'no-help / ai-map', cells: [2, '0.25', '1.50', '0.13'] }]);
  });

  it('offers the images with the most masks first, with the conditions that have a map', () => {
    expect(imageChoices(STATS)).toEqual([
      { id: 3, masks: 4, conditions: ['no-help', 'ai-map'] },
      { id: 9, masks: 2, conditions: ['no-help'] }, // its mask under no condition has no map to ask for
      { id: 7, masks: 1, conditions: ['no-help'] },
    ]);
  });

  it('addresses a condition\'s map and the difference of two, as the API serves them', () => {
    expect(mapUrl(4, 3, { condition: 'no-help' })).toBe('/api/studies/4/images/3/saliency.png?condition=no-help');
    expect(mapUrl(4, 3, { condition: 'no-help', minus: 'ai-map', sigma: 2, format: 'npy' }))
      .toBe('/api/studies/4/images/3/saliency.npy?condition=no-help&minus=ai-map&sigma=2');
  });
});
