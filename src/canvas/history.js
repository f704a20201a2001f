/**
 * Undo and redo of the open document, as a whole: each step keeps what it did to the strokes
 * (a stroke added, or all of them cleared) and the pixels it flipped in the mask (./mask.js).
 * Undo flips those pixels back and redo flips them again, each in time proportional to the
 * pixels changed, never a replay of the strokes; the only full rasterization is the mask's
 * load (the checkpoint every step is relative to).
 *
 * The strokes list itself is the store's (it is what is saved); every method takes the list as
 * it stands and returns the list after the step, never changing the one it was given.
 */

/** Steps kept for undo; older ones are forgotten (their strokes stay in the document). */
export const MAX_UNDO = 2000;

export class History {
  /** Start with nothing to undo, on `mask` (a Mask holding the loaded strokes). */
  constructor(mask) {
    this.mask = mask;
    this.past = []; // steps, oldest first: {type: 'add', stroke, delta} | {type: 'clear', strokes, delta}
    this.future = []; // undone steps, the next to redo last
  }

  get undoCount() {
    return this.past.length;
  }

  get redoCount() {
    return this.future.length;
  }

  /**
   * Record a stroke added after `strokes`; `delta` holds the pixels it flipped when it was
   * painted as it was drawn (see LiveStroke), else it is painted now. Return the new strokes.
   */
  add(strokes, stroke, delta = this.mask.paintStroke(stroke)) {
    this._record({ type: 'add', stroke, delta });
    return [...strokes, stroke];
  }

  /** Clear the mask and record it; return the new (empty) strokes. */
  clear(strokes) {
    this._record({ type: 'clear', strokes, delta: this.mask.clearAll() });
    return [];
  }

  /** Undo the last step; return the strokes before it, or null when there is nothing to undo. */
  undo(strokes) {
    const step = this.past.pop();
    if (!step) return null;
    this.mask.flip(step.delta, 'undo');
    this.future.push(step);
    return step.type === 'add' ? strokes.slice(0, -1) : step.strokes;
  }

  /** Redo the last undone step; return the strokes after it, or null when there is nothing to redo. */
  redo(strokes) {
    const step = this.future.pop();
    if (!step) return null;
    this.mask.flip(step.delta, 'redo');
    this.past.push(step);
    return step.type === 'add' ? [...strokes, step.stroke] : [];
  }

  /** Flip back the pixels of a stroke that was painted but is not to be kept (the document refused it). */
  discard(delta) {
    this.mask.flip(delta, 'undo');
  }

  _record(step) {
    this.past.push(step);
    if (this.past.length > MAX_UNDO) this.past.shift();
    this.future = [];
  }
}
