/**
 * Pointer input on the drawing stage: turns pointer events into stroke points, pans and zooms.
 *
 * - Pointer capture keeps a stroke going when the pointer leaves the stage; coalesced events
 *   give every sample the hardware produced, so fast strokes stay smooth; points are passed on
 *   at once, painting is throttled to one animation frame.
 * - Mouse (left button), pen and touch draw. The middle button, space + drag and two fingers pan;
 *   two fingers pinch-zoom; the wheel zooms around the cursor.
 * - A palm or a second finger never draws: touches are ignored while a pen is near or was used
 *   in the last second; a very large contact is a palm; a second finger landing soon after the
 *   first turns the gesture into pan/zoom and cancels the first finger's stroke, a later one
 *   (a resting palm) is ignored.
 */

const PALM_AFTER_PEN_MS = 1000;
const TWO_FINGER_WINDOW_MS = 250;
const PALM_CONTACT_PX = 60;

/**
 * Attach to `stage` (an element); `handlers` receive stage coordinates (CSS px from its top-left):
 * beginStroke(sx, sy, t, p, pointerType) -> bool, addPoint(sx, sy, t, p), frame(), endStroke(),
 * cancelStroke(), pan(dx, dy), pinch(oldA, oldB, newA, newB), zoom(factor, sx, sy), hover(sx, sy|null),
 * spaceChanged(held). Return a function that detaches everything: every listener, and the frame
 * still pending.
 */
export function attachInput(stage, handlers) {
  let rect = stage.getBoundingClientRect();
  let drawing = null; // {pointerId, pointerType, startedAt}
  let panning = null; // {pointerId, x, y}
  const touches = new Map(); // pointerId -> [sx, sy]
  let gesture = false; // two fingers are panning/zooming
  let spaceHeld = false;
  let lastPenAt = -Infinity;
  let frame = 0; // the pending animation frame's id, or 0

  const local = (e) => [e.clientX - rect.left, e.clientY - rect.top];
  const when = (e) => performance.timeOrigin + e.timeStamp;

  function requestFrame() {
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      handlers.frame();
    });
  }

  function isPalm(e) {
    if (e.pointerType !== 'touch') return false;
    if (performance.now() - lastPenAt < PALM_AFTER_PEN_MS) return true;
    return (e.width || 0) > PALM_CONTACT_PX && (e.height || 0) > PALM_CONTACT_PX;
  }

  function onPointerDown(e) {
    rect = stage.getBoundingClientRect();
    if (e.pointerType === 'pen') lastPenAt = performance.now();
    if (isPalm(e)) return;
    if (e.pointerType === 'touch') {
      touches.set(e.pointerId, local(e));
      if (touches.size === 2) {
        if (drawing && drawing.pointerType === 'touch') {
          if (performance.now() - drawing.startedAt < TWO_FINGER_WINDOW_MS) {
            handlers.cancelStroke();
            drawing = null;
            gesture = true;
          } else {
            touches.delete(e.pointerId); // a resting palm: ignore it, keep drawing
            return;
          }
        } else if (!drawing) gesture = true;
        stage.setPointerCapture(e.pointerId);
        e.preventDefault();
        return;
      }
      if (touches.size > 2) return;
    }
    if (drawing || panning) return; // one stroke at a time; other pointers never draw
    const [sx, sy] = local(e);
    const wantsPan = e.button === 1 || (e.button === 0 && spaceHeld);
    if (wantsPan) {
      panning = { pointerId: e.pointerId, x: sx, y: sy };
      stage.setPointerCapture(e.pointerId);
      e.preventDefault();
      return;
    }
    if (e.button !== 0 || !e.isPrimary) return;
    if (!handlers.beginStroke(sx, sy, when(e), e.pressure, e.pointerType)) return;
    drawing = { pointerId: e.pointerId, pointerType: e.pointerType, startedAt: performance.now() };
    stage.setPointerCapture(e.pointerId);
    e.preventDefault();
    requestFrame();
  }

  function onPointerMove(e) {
    if (e.pointerType === 'pen') lastPenAt = performance.now();
    if (gesture && touches.has(e.pointerId)) {
      const ids = [...touches.keys()];
      const oldA = touches.get(ids[0]);
      const oldB = touches.get(ids[1]);
      touches.set(e.pointerId, local(e));
      if (oldA && oldB) handlers.pinch(oldA, oldB, touches.get(ids[0]), touches.get(ids[1]));
      return;
    }
    if (e.pointerType === 'touch' && touches.has(e.pointerId)) touches.set(e.pointerId, local(e));
    if (panning && e.pointerId === panning.pointerId) {
      const [sx, sy] = local(e);
      handlers.pan(sx - panning.x, sy - panning.y);
      panning.x = sx;
      panning.y = sy;
      return;
    }
    if (drawing && e.pointerId === drawing.pointerId) {
      const samples = typeof e.getCoalescedEvents === 'function' ? e.getCoalescedEvents() : [];
      for (const sample of samples.length ? samples : [e]) {
        const [sx, sy] = local(sample);
        handlers.addPoint(sx, sy, when(sample), sample.pressure);
      }
      requestFrame();
    }
    if (!drawing && !panning && e.pointerType !== 'touch') {
      const [sx, sy] = local(e);
      handlers.hover(sx, sy);
    }
  }

  function onPointerUp(e) {
    if (touches.has(e.pointerId)) {
      touches.delete(e.pointerId);
      if (touches.size === 0) gesture = false;
    }
    if (panning && e.pointerId === panning.pointerId) panning = null;
    if (drawing && e.pointerId === drawing.pointerId) {
      drawing = null;
      handlers.endStroke(); // pointercancel too: keep what was drawn, never lose work
    }
  }

  function onPointerLeave(e) {
    if (e.pointerType !== 'touch' && !drawing) handlers.hover(null, null);
  }

  function onWheel(e) {
    e.preventDefault();
    rect = stage.getBoundingClientRect();
    const unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? 400 : 1;
    const speed = e.ctrlKey ? 0.01 : 0.0015; // trackpad pinches arrive as ctrl+wheel with small deltas
    const factor = Math.exp(-e.deltaY * unit * speed);
    const [sx, sy] = local(e);
    handlers.zoom(factor, sx, sy);
  }

  function isTyping(e) {
    const tag = e.target && e.target.tagName;
    return tag === 'INPUT' || tag === 'TEXTAREA' || (e.target && e.target.isContentEditable);
  }

  function onKeyDown(e) {
    if (e.code === 'Space' && !isTyping(e)) {
      e.preventDefault();
      if (!spaceHeld) {
        spaceHeld = true;
        handlers.spaceChanged(true);
      }
    }
  }

  function onKeyUp(e) {
    if (e.code === 'Space' && spaceHeld) {
      spaceHeld = false;
      handlers.spaceChanged(false);
    }
  }

  // Space released in another window (Alt+Tab while panning) sends no keyup here: without this,
  // the page would stay in pan mode and refuse to draw until Space was pressed again.
  function onBlur() {
    if (!spaceHeld) return;
    spaceHeld = false;
    handlers.spaceChanged(false);
  }

  const onContextMenu = (e) => e.preventDefault(); // a right-click or a long press never opens a menu over the image

  function onResize() {
    rect = stage.getBoundingClientRect();
  }

  stage.addEventListener('pointerdown', onPointerDown);
  stage.addEventListener('pointermove', onPointerMove);
  stage.addEventListener('pointerup', onPointerUp);
  stage.addEventListener('pointercancel', onPointerUp);
  stage.addEventListener('pointerleave', onPointerLeave);
  stage.addEventListener('wheel', onWheel, { passive: false });
  stage.addEventListener('contextmenu', onContextMenu);
  window.addEventListener('keydown', onKeyDown);
  window.addEventListener('keyup', onKeyUp);
  window.addEventListener('blur', onBlur);
  window.addEventListener('resize', onResize);
  return () => {
    if (frame) cancelAnimationFrame(frame); // no frame for a page that is gone
    frame = 0;
    stage.removeEventListener('pointerdown', onPointerDown);
    stage.removeEventListener('pointermove', onPointerMove);
    stage.removeEventListener('pointerup', onPointerUp);
    stage.removeEventListener('pointercancel', onPointerUp);
    stage.removeEventListener('pointerleave', onPointerLeave);
    stage.removeEventListener('wheel', onWheel);
    stage.removeEventListener('contextmenu', onContextMenu);
    window.removeEventListener('keydown', onKeyDown);
    window.removeEventListener('keyup', onKeyUp);
    window.removeEventListener('blur', onBlur);
    window.removeEventListener('resize', onResize);
  };
}
