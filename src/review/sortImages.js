/**
 * Order the Review grid's images by a figure from GET /api/datasets/{id}/stats/ (one entry
 * per image). Images without the figure (one annotator, so no IoU; no ground truth, so no
 * accuracy) always come last, whichever the direction: they cannot be ranked. Ties keep a
 * fixed order (file name, then id), so the grid does not shuffle between loads.
 */

/** The sort keys the page offers: what each reads from an image's figures. */
export const SORT_KEYS = Object.freeze({
  agreement: { label: 'Agreement (mean IoU)', value: (image) => image.iou && image.iou.mean },
  accuracy: { label: 'Accuracy', value: (image) => image.accuracy },
  choice: { label: 'Agreement on the answer', value: (image) => image.choice_agreement },
  time: { label: 'Time spent (median)', value: (image) => image.active_ms && image.active_ms.median },
  annotations: { label: 'Annotations', value: (image) => image.annotations },
  name: { label: 'File name', value: (image) => image.path },
});

const present = (value) => value !== null && value !== undefined && !(typeof value === 'number' && Number.isNaN(value));

function compareValues(a, b) {
  if (typeof a === 'string' || typeof b === 'string') return String(a).localeCompare(String(b), undefined, { numeric: true });
  return a - b;
}

function byName(a, b) {
  return compareValues(a.path || '', b.path || '') || a.id - b.id;
}

/** Return a new array of the images sorted by `key` ('asc' or 'desc'); unknown keys sort by name. */
export function sortImages(images, key = 'agreement', direction = 'asc') {
  const read = (SORT_KEYS[key] || SORT_KEYS.name).value;
  const sign = direction === 'desc' ? -1 : 1;
  return images
    .map((image) => ({ image, value: read(image) }))
    .sort((a, b) => {
      const aHas = present(a.value);
      const bHas = present(b.value);
      if (aHas !== bHas) return aHas ? -1 : 1;
      const order = aHas ? sign * compareValues(a.value, b.value) : 0;
      return order || byName(a.image, b.image);
    })
    .map((entry) => entry.image);
}
