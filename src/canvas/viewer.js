/**
 * Pan and zoom an image that is only looked at (the Review page): drag with any button,
 * the wheel or two fingers, through the same pointer handling as the drawing stage
 * (./input.js), where a "stroke" becomes a drag.
 */

import { panBy, pinch, zoomAt } from './geometry/viewport.js';
import { attachInput } from './input.js';

/**
 * Attach to `stage`; `getView()` returns the current {zoom, tx, ty}, `setView(view)` applies
 * a new one. Return a function that detaches everything.
 */
export function attachViewer(stage, { getView, setView }) {
  let last = null;
  const handlers = {
    beginStroke(sx, sy) {
      last = [sx, sy];
      stage.classList.add('is-dragging');
      return true;
    },
    addPoint(sx, sy) {
      if (!last) return;
      setView(panBy(getView(), sx - last[0], sy - last[1]));
      last = [sx, sy];
    },
    frame() {},
    endStroke() {
      last = null;
      stage.classList.remove('is-dragging');
    },
    cancelStroke() {
      handlers.endStroke();
    },
    pan(dx, dy) {
      setView(panBy(getView(), dx, dy));
    },
    pinch(oldA, oldB, newA, newB) {
      setView(pinch(getView(), oldA, oldB, newA, newB));
    },
    zoom(factor, sx, sy) {
      setView(zoomAt(getView(), factor, sx, sy));
    },
    hover() {},
    spaceChanged() {},
  };
  return attachInput(stage, handlers);
}
