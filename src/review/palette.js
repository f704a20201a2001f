/**
 * Colours that tell annotators apart: the Okabe–Ito palette (distinct for colour-blind
 * readers too), then evenly spread hues for larger crowds. An annotator keeps one colour on
 * every view of the dataset.
 */

const OKABE_ITO = ['#e69f00', '#56b4e9', '#009e73', '#f0e442', '#0072b2', '#d55e00', '#cc79a7', '#ffffff'];

/** Return the colour of the `index`-th annotator as '#rrggbb'. */
export function annotatorColour(index) {
  if (index < OKABE_ITO.length) return OKABE_ITO[index];
  const hue = ((index - OKABE_ITO.length) * 137.508) % 360; // the golden angle: hues never bunch up
  return hslToHex(hue, 70, 60);
}

function hslToHex(h, s, l) {
  const a = (s / 100) * Math.min(l / 100, 1 - l / 100);
  const channel = (n) => {
    const k = (n + h / 30) % 12;
    const c = l / 100 - a * Math.max(-1, Math.min(k - 3, 9 - k, 1));
    return Math.round(255 * c).toString(16).padStart(2, '0');
  };
  return `#${channel(0)}${channel(8)}${channel(4)}`;
}

/** Return a colour for a figure between 0 (bad) and 1 (good): red, amber, green. */
export function scoreColour(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return '#5b6472';
  if (value >= 0.75) return '#3ecf8e';
  if (value >= 0.5) return '#f5b14c';
  return '#ff5c5c';
}

/**
 * The heat maps' colour scale, viridis, at the nine stops the server interpolates between
 * (backend/api/saliency.py, VIRIDIS): dark purple where few annotators drew, yellow where all did.
 */
export const VIRIDIS = Object.freeze([
  [68, 1, 84],
  [71, 45, 123],
  [59, 82, 139],
  [44, 114, 142],
  [33, 145, 140],
  [40, 174, 128],
  [94, 201, 98],
  [173, 220, 48],
  [253, 231, 37],
]);

/** Return the scale as a CSS linear-gradient from 0 (left) to 1 (right), for the legend. */
export function viridisGradient(direction = 'to right') {
  const stops = VIRIDIS.map(([r, g, b], i) => `rgb(${r}, ${g}, ${b}) ${((100 * i) / (VIRIDIS.length - 1)).toFixed(1)}%`);
  return `linear-gradient(${direction}, ${stops.join(', ')})`;
}
