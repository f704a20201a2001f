import { describe, expect, it } from 'vitest';
import { sortImages } from './sortImages.js';

const image = (id, path, iou, accuracy, extra = {}) => ({
  id,
  path,
  iou: { mean: iou },
  accuracy,
  annotations: 2,
  active_ms: { median: 1000 * id },
  choice_agreement: null,
  ...extra,
});

const ids = (images) => images.map((i) => i.id);

describe('sortImages', () => {
  const images = [
    image(1, 'b.png', 0.9, 1),
    image(2, 'a.png', null, 0.5),
    image(3, 'c.png', 0.2, null),
    image(4, 'd.png', 0.55, 0),
    image(5, 'e.png', 0.2, 1),
  ];

  it('puts the least agreed images first by mean IoU, ties by file name', () => {
    expect(ids(sortImages(images, 'agreement', 'asc'))).toEqual([3, 5, 4, 1, 2]);
  });

  it('puts the most agreed first when descending, still leaving images without an IoU last', () => {
    expect(ids(sortImages(images, 'agreement', 'desc'))).toEqual([1, 4, 3, 5, 2]);
  });

  it('sorts by accuracy with images without ground truth last', () => {
    expect(ids(sortImages(images, 'accuracy', 'asc'))).toEqual([4, 2, 1, 5, 3]);
    expect(ids(sortImages(images, 'accuracy', 'desc'))).toEqual([1, 5, 2, 4, 3]);
  });

  it('sorts file names naturally (img2 before img10)', () => {
    const named = [image(1, 'img10.png', 0, 0), image(2, 'img2.png', 0, 0), image(3, 'img1.png', 0, 0)];
    expect(ids(sortImages(named, 'name', 'asc'))).toEqual([3, 2, 1]);
  });

  it('treats an unknown key as the file name and leaves its input untouched', () => {
    const copy = images.slice();
    expect(ids(sortImages(images, 'nonsense'))).toEqual([2, 1, 3, 4, 5]);
    expect(images).toEqual(copy);
  });

  it('breaks ties by id when the file names are equal too', () => {
    const twins = [image(9, 'x.png', 0.5, 1), image(3, 'x.png', 0.5, 1)];
    expect(ids(sortImages(twins, 'agreement', 'desc'))).toEqual([3, 9]);
  });
});
