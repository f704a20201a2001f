/**
 * The study dashboard's saliency panel, as data: the agreement per condition and per pair of
 * conditions (GET /api/studies/{id}/stats/), the images to browse, and the addresses of an
 * image's maps. Pure: the component only lays these out.
 */

const NONE = '—';

/** Return a number as the panel shows it: `digits` decimals, or a dash when there is none. */
export function figure(value, digits = 2) {
  return value === null || value === undefined || Number.isNaN(value) ? NONE : Number(value).toFixed(digits);
}

/** Return a condition's slug as shown ("" is the trials under no condition). */
export function conditionName(slug) {
  return slug ? slug : '(none)';
}

/** Return the per-condition rows: masks, images with a split half, split-half r, pairwise IoU and Dice. */
export function conditionRows(stats) {
  return (stats?.conditions || []).map((row) => ({
    condition: row.condition,
    name: conditionName(row.condition),
    cells: [row.masks, row.images_with_split_half, figure(row.split_half_r), figure(row.iou), figure(row.dice)],
  }));
}

/** Return the per-pair rows: images compared, CC, KL both ways. */
export function pairRows(stats) {
  return (stats?.pairs || []).map((pair) => ({
    key: `${pair.a}|${pair.b}`,
    name: `${conditionName(pair.a)} / ${conditionName(pair.b)}`,
    cells: [pair.images, figure(pair.cc), figure(pair.kl_a_b), figure(pair.kl_b_a)],
  }));
}

/** Return the images to browse, most masks first: {id, masks, conditions (slugs with a map)}. */
export function imageChoices(stats) {
  return (stats?.per_image || [])
    .map((image) => ({
      id: image.image,
      masks: image.conditions.reduce((sum, row) => sum + row.masks, 0),
      conditions: image.conditions.map((row) => row.condition).filter((slug) => slug),
    }))
    .sort((a, b) => b.masks - a.masks || a.id - b.id);
}

/** Return the address of an image's mean map under a condition, or of the difference `condition - minus`. */
export function mapUrl(studyId, imageId, { condition, minus = null, sigma = 0, format = 'png' }) {
  const query = new URLSearchParams({ condition });
  if (minus) query.set('minus', minus);
  if (sigma) query.set('sigma', String(sigma));
  return `/api/studies/${studyId}/images/${imageId}/saliency.${format}?${query}`;
}
