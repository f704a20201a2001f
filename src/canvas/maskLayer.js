/**
 * Paint a mask on an image-sized canvas in one colour: its inside translucent, its edge
 * opaque, so several annotators' masks stay readable where they overlap (the Review page).
 * Only the rectangle given is repainted (one pixel wider: a change moves its neighbours' edge).
 */

const STRIP_ROWS = 256; // bound the temporary ImageData on large images

/** Return [r, g, b] of a '#rrggbb' colour. */
export function hexToRgb(hex) {
  const value = parseInt(hex.slice(1), 16);
  return [(value >> 16) & 255, (value >> 8) & 255, value & 255];
}

/** Return whether pixel i (column x, row y) of a set mask lies on its edge (a 4-neighbour is clear or outside). */
function onEdge(mask, width, height, x, y, i) {
  return x === 0 || y === 0 || x === width - 1 || y === height - 1 || !mask[i - 1] || !mask[i + 1] || !mask[i - width] || !mask[i + width];
}

/**
 * Paint `rect` ({x0, y0, x1, y1} inclusive, or null for the whole mask) of `mask`
 * (Uint8Array, row-major, 1 = set) onto `context` in `rgb` ([r, g, b]); `fillAlpha` and
 * `edgeAlpha` are 0..255.
 */
export function paintMaskLayer(context, mask, width, height, rect, rgb, { fillAlpha = 96, edgeAlpha = 255 } = {}) {
  if (width === 0 || height === 0) return;
  const x0 = Math.max((rect ? rect.x0 : 0) - 1, 0);
  const y0 = Math.max((rect ? rect.y0 : 0) - 1, 0);
  const x1 = Math.min((rect ? rect.x1 : width - 1) + 1, width - 1);
  const y1 = Math.min((rect ? rect.y1 : height - 1) + 1, height - 1);
  if (x0 > x1 || y0 > y1) return;
  const [r, g, b] = rgb;
  // ImageData is RGBA in memory; a little-endian Uint32 reads it as ABGR.
  const fill = ((fillAlpha << 24) | (b << 16) | (g << 8) | r) >>> 0;
  const edge = ((edgeAlpha << 24) | (b << 16) | (g << 8) | r) >>> 0;
  const w = x1 - x0 + 1;
  for (let top = y0; top <= y1; top += STRIP_ROWS) {
    const h = Math.min(STRIP_ROWS, y1 - top + 1);
    const data = new ImageData(w, h);
    const pixels = new Uint32Array(data.data.buffer);
    for (let y = 0; y < h; y++) {
      const row = top + y;
      for (let x = 0; x < w; x++) {
        const i = row * width + x0 + x;
        if (mask[i]) pixels[y * w + x] = onEdge(mask, width, height, x0 + x, row, i) ? edge : fill;
      }
    }
    context.putImageData(data, x0, top);
  }
}
