/**
 * The Review page's mask layers: one image-sized canvas per annotator, each painting that
 * annotator's mask as it stood at one moment of the replay (./replay.js), in the annotator's
 * colour, with the stroke being drawn shown on an SVG overlay (a lasso's outline, the brush's
 * footprint). A shared clock plays, pauses and seeks every layer at once; at the end of the
 * replay every layer shows exactly the stored mask.
 */

import { hexToRgb, paintMaskLayer } from './maskLayer.js';
import { MaskReplayer } from './replay.js';

const SVG = 'http://www.w3.org/2000/svg';

export class ReplayLayers {
  /** `overlay`: an <svg> in image coordinates; `onTime(time, playing)` is told of every change. */
  constructor({ overlay, onTime = () => {} }) {
    this.overlay = overlay;
    this.onTime = onTime;
    this.layers = [];
    this.time = 0;
    this.duration = 0;
    this.speed = 1;
    this.playing = false;
    this.frame = null;
    this.fillAlpha = 96; // the masks' insides; 0 leaves their edges only (over a heat map)
  }

  /**
   * Replace the layers: [{id, strokes, width, height, canvas, colour}]. They start at the end
   * of the replay, showing the stored masks.
   */
  setLayers(specs, { maxGapMs = Infinity } = {}) {
    this.pause();
    for (const layer of this.layers) layer.group.remove();
    this.layers = specs.map((spec) => {
      const replayer = new MaskReplayer(spec.strokes, spec.width, spec.height, { maxGapMs });
      spec.canvas.width = spec.width;
      spec.canvas.height = spec.height;
      const group = document.createElementNS(SVG, 'g');
      const outline = document.createElementNS(SVG, 'path');
      outline.setAttribute('class', 'replay-outline');
      const pen = document.createElementNS(SVG, 'circle');
      pen.setAttribute('class', 'replay-pen');
      group.append(outline, pen);
      this.overlay.append(group);
      return { ...spec, rgb: hexToRgb(spec.colour), replayer, context: spec.canvas.getContext('2d'), group, outline, pen };
    });
    this.duration = Math.max(0, ...this.layers.map((l) => l.replayer.duration));
    this.seek(this.duration);
  }

  /** Show every layer as it stood at `time` (ms of replay). */
  seek(time) {
    this.time = Math.min(Math.max(time, 0), this.duration);
    for (const layer of this.layers) {
      const dirty = layer.replayer.seek(this.time);
      if (dirty) this._paint(layer, dirty);
      this._drawCurrent(layer);
    }
    this.onTime(this.time, this.playing);
  }

  /** Repaint one layer in a new colour. */
  recolour(id, colour) {
    const layer = this.layers.find((l) => l.id === id);
    if (!layer || layer.colour === colour) return;
    layer.colour = colour;
    layer.rgb = hexToRgb(colour);
    this._paint(layer, null);
    layer.group.style.color = colour;
  }

  /** Paint the masks' insides with this alpha (0..255; 0: edges only) and repaint every layer. */
  setFillAlpha(alpha) {
    if (alpha === this.fillAlpha) return;
    this.fillAlpha = alpha;
    for (const layer of this.layers) this._paint(layer, null);
  }

  /** Repaint `rect` of a layer (null: all of it). */
  _paint(layer, rect) {
    if (!rect) layer.context.clearRect(0, 0, layer.width, layer.height);
    paintMaskLayer(layer.context, layer.replayer.mask, layer.width, layer.height, rect, layer.rgb, { fillAlpha: this.fillAlpha });
  }

  play() {
    if (this.playing || !this.layers.length) return;
    if (this.time >= this.duration) this.seek(0); // from the start again
    this.playing = true;
    let last = performance.now();
    const tick = (now) => {
      if (!this.playing) return;
      const next = this.time + (now - last) * this.speed;
      last = now;
      if (next >= this.duration) {
        this.playing = false;
        this.seek(this.duration);
        return;
      }
      this.seek(next);
      this.frame = requestAnimationFrame(tick);
    };
    this.frame = requestAnimationFrame(tick);
    this.onTime(this.time, true);
  }

  pause() {
    if (this.frame !== null) cancelAnimationFrame(this.frame);
    this.frame = null;
    if (this.playing) {
      this.playing = false;
      this.onTime(this.time, false);
    }
  }

  /** Return the layers' masks as they stand (test hook): [{id, width, height, mask, finished}]. */
  masks() {
    return this.layers.map((l) => ({ id: l.id, width: l.width, height: l.height, mask: l.replayer.mask, finished: l.replayer.finished }));
  }

  destroy() {
    this.pause();
    for (const layer of this.layers) layer.group.remove();
    this.layers = [];
  }

  _drawCurrent(layer) {
    const stroke = layer.replayer.current();
    layer.group.style.color = layer.colour;
    if (!stroke) {
      layer.outline.setAttribute('d', '');
      layer.pen.setAttribute('r', '0');
      return;
    }
    const points = stroke.points;
    const [x, y] = points[points.length - 1];
    const lasso = stroke.tool === 'lasso' || stroke.tool === 'lasso-eraser';
    let d = '';
    if (lasso) for (let i = 0; i < points.length; i++) d += `${i ? 'L' : 'M'}${points[i][0]} ${points[i][1]}`;
    layer.outline.setAttribute('d', d);
    layer.pen.setAttribute('cx', x);
    layer.pen.setAttribute('cy', y);
    layer.pen.setAttribute('r', lasso ? 2 : Math.max(stroke.width / 2, 1));
    layer.pen.dataset.tool = stroke.tool;
  }
}
