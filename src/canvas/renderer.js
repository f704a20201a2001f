/**
 * Paint the stage's layers: the image and the committed mask live at image resolution inside
 * one transformed element (so pan and zoom are a CSS transform the compositor applies, never a
 * repaint); the lasso outline and the brush footprint live on a screen-sized overlay.
 * The mask layer is updated only inside the rectangle that changed.
 */

export const MASK_RGB = [255, 38, 116];
const STRIP_ROWS = 256; // paint huge rectangles in strips to bound the temporary ImageData

export class Renderer {
  /** Elements: world (holds image + mask), maskCanvas (image-sized), overlay (stage-sized), cursor (a div). */
  constructor({ world, maskCanvas, overlay, cursor, extraWorlds = [] }) {
    this.world = world;
    this.extraWorlds = extraWorlds;
    this.maskCanvas = maskCanvas;
    this.maskContext = maskCanvas.getContext('2d');
    this.overlay = overlay;
    this.overlayContext = overlay.getContext('2d');
    this.cursor = cursor;
    this.view = { zoom: 1, tx: 0, ty: 0 };
    const [r, g, b] = MASK_RGB;
    // ImageData is RGBA in memory; a little-endian Uint32 reads it as ABGR.
    this.colour = ((255 << 24) | (b << 16) | (g << 8) | r) >>> 0;
  }

  /** Size the mask layer for a new image. */
  resize(width, height) {
    this.maskCanvas.width = width;
    this.maskCanvas.height = height;
  }

  /** Size the overlay to the stage (in device pixels, for a crisp outline). */
  resizeOverlay(cssWidth, cssHeight) {
    const ratio = window.devicePixelRatio || 1;
    this.overlay.width = Math.round(cssWidth * ratio);
    this.overlay.height = Math.round(cssHeight * ratio);
    this.overlay.style.width = `${cssWidth}px`;
    this.overlay.style.height = `${cssHeight}px`;
    this.ratio = ratio;
  }

  setView(view) {
    this.view = view;
    const transform = `translate(${view.tx}px, ${view.ty}px) scale(${view.zoom})`;
    for (const world of [this.world, ...this.extraWorlds]) {
      world.style.transform = transform;
      // Past 2x, show pixels as squares: the mask is per pixel, and so is what the annotator judges.
      world.classList.toggle('pixelated', view.zoom >= 2);
    }
  }

  /** Copy the rectangles `rects` (inclusive pixel bounds) of `mask` onto the mask layer. */
  paintMask(mask, width, rects) {
    if (!rects) return;
    for (const rect of rects) this._paintRect(mask, width, rect);
  }

  _paintRect(mask, width, rect) {
    const w = rect.x1 - rect.x0 + 1;
    for (let y0 = rect.y0; y0 <= rect.y1; y0 += STRIP_ROWS) {
      const h = Math.min(STRIP_ROWS, rect.y1 - y0 + 1);
      const data = new ImageData(w, h);
      const pixels = new Uint32Array(data.data.buffer);
      const colour = this.colour;
      for (let y = 0; y < h; y++) {
        const from = (y0 + y) * width + rect.x0;
        const out = y * w;
        for (let x = 0; x < w; x++) if (mask[from + x]) pixels[out + x] = colour;
      }
      this.maskContext.putImageData(data, rect.x0, y0);
    }
  }

  /** Draw the outline of a lasso being drawn (image coordinates), closed by a dashed line. */
  drawLasso(points, erase) {
    const ctx = this.overlayContext;
    const { zoom, tx, ty } = this.view;
    const r = this.ratio || 1;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.overlay.width, this.overlay.height);
    if (points.length < 2) return;
    ctx.setTransform(r, 0, 0, r, 0, 0);
    ctx.beginPath();
    ctx.moveTo(points[0][0] * zoom + tx, points[0][1] * zoom + ty);
    for (let k = 1; k < points.length; k++) ctx.lineTo(points[k][0] * zoom + tx, points[k][1] * zoom + ty);
    ctx.fillStyle = erase ? 'rgba(255,255,255,0.18)' : 'rgba(255,38,116,0.18)';
    ctx.fill('evenodd');
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = erase ? '#ffffff' : 'rgb(255,38,116)';
    ctx.stroke();
    ctx.setLineDash([4, 4]);
    ctx.beginPath();
    const last = points[points.length - 1];
    ctx.moveTo(last[0] * zoom + tx, last[1] * zoom + ty);
    ctx.lineTo(points[0][0] * zoom + tx, points[0][1] * zoom + ty);
    ctx.stroke();
    ctx.setLineDash([]);
  }

  clearOverlay() {
    this.overlayContext.setTransform(1, 0, 0, 1, 0, 0);
    this.overlayContext.clearRect(0, 0, this.overlay.width, this.overlay.height);
  }

  /** Show the brush's real footprint (diameter in stage pixels) centred on (sx, sy), or hide it. */
  showCursor(sx, sy, diameter, kind) {
    const style = this.cursor.style;
    if (sx === null || kind === 'none') {
      style.display = 'none';
      return;
    }
    const d = Math.max(diameter, 4);
    style.display = 'block';
    style.width = `${d}px`;
    style.height = `${d}px`;
    style.transform = `translate(${sx - d / 2}px, ${sy - d / 2}px)`;
    this.cursor.dataset.kind = kind;
  }
}
