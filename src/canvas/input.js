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
  const input = new StageInput(stage, handlers);
  input.attach();
  return () => input.detach();
}

/**
 * Return whether Space held on `target` is for panning: on the page itself or the stage, and on
 * the control the mouse last clicked (`clicked`: it keeps the focus, so Fit then Space-drag
 * pans). On a control reached by the keyboard Space presses it, and in a text field it types:
 * swallowing it would leave keyboard users unable to press a focused button.
 */
export function spacePans(target, stage, clicked = null) {
  if (!target || target === stage) return true;
  if (target.tagName === 'BODY' || target.tagName === 'HTML') return true;
  if (stage && typeof stage.contains === 'function' && stage.contains(target)) return true;
  if (target.tagName === 'INPUT' || target.tagName === 'TEXTAREA' || target.tagName === 'SELECT' || target.isContentEditable) return false;
  return target === clicked;
}

/** The pointer, wheel and key listeners of one stage, and what they track between events. */
class StageInput {
  constructor(stage, handlers) {
    this.stage = stage;
    this.handlers = handlers;
    this.rect = stage.getBoundingClientRect();
    this.drawing = null; // {pointerId, pointerType, startedAt}
    this.panning = null; // {pointerId, x, y}
    this.touches = new Map(); // pointerId -> [sx, sy]
    this.gesture = false; // two fingers are panning/zooming
    this.spaceHeld = false;
    this.lastPenAt = -Infinity;
    // How focus last moved: 'pointer' (a click) or 'keyboard'; and the control a click focused.
    this.lastInput = 'pointer';
    this.clicked = null;
    this.frame = 0; // the pending animation frame's id, or 0
    // [target, type, listener, options]: every listener, so detach removes exactly these.
    this.listeners = [
      [stage, 'pointerdown', (e) => this.onPointerDown(e)],
      [stage, 'pointermove', (e) => this.onPointerMove(e)],
      [stage, 'pointerup', (e) => this.onPointerUp(e)],
      [stage, 'pointercancel', (e) => this.onPointerUp(e)],
      [stage, 'pointerleave', (e) => this.onPointerLeave(e)],
      [stage, 'wheel', (e) => this.onWheel(e), { passive: false }],
      [stage, 'contextmenu', (e) => e.preventDefault()], // a right-click or a long press never opens a menu over the image
      [window, 'pointerdown', () => (this.lastInput = 'pointer'), { capture: true }],
      [window, 'focusin', (e) => (this.clicked = this.lastInput === 'pointer' ? e.target : null)],
      [window, 'keydown', (e) => this.onKeyDown(e)],
      [window, 'keyup', (e) => this.onKeyUp(e)],
      [window, 'blur', () => this.onBlur()],
      [window, 'resize', () => (this.rect = stage.getBoundingClientRect())],
    ];
  }

  attach() {
    for (const [target, type, listener, options] of this.listeners) target.addEventListener(type, listener, options);
  }

  detach() {
    if (this.frame) cancelAnimationFrame(this.frame); // no frame for a page that is gone
    this.frame = 0;
    for (const [target, type, listener, options] of this.listeners) target.removeEventListener(type, listener, options);
  }

  local(e) {
    return [e.clientX - this.rect.left, e.clientY - this.rect.top];
  }

  when(e) {
    return performance.timeOrigin + e.timeStamp;
  }

  requestFrame() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.handlers.frame();
    });
  }

  isPalm(e) {
    if (e.pointerType !== 'touch') return false;
    if (performance.now() - this.lastPenAt < PALM_AFTER_PEN_MS) return true;
    return (e.width || 0) > PALM_CONTACT_PX && (e.height || 0) > PALM_CONTACT_PX;
  }

  onPointerDown(e) {
    this.rect = this.stage.getBoundingClientRect();
    if (e.pointerType === 'pen') this.lastPenAt = performance.now();
    if (this.isPalm(e)) return;
    if (e.pointerType === 'touch' && this.touchDown(e)) return;
    if (this.drawing || this.panning) return; // one stroke at a time; other pointers never draw
    const [sx, sy] = this.local(e);
    const wantsPan = e.button === 1 || (e.button === 0 && this.spaceHeld);
    if (wantsPan) {
      this.panning = { pointerId: e.pointerId, x: sx, y: sy };
      this.stage.setPointerCapture(e.pointerId);
      e.preventDefault();
      return;
    }
    if (e.button !== 0 || !e.isPrimary) return;
    if (!this.handlers.beginStroke(sx, sy, this.when(e), e.pressure, e.pointerType)) return;
    this.drawing = { pointerId: e.pointerId, pointerType: e.pointerType, startedAt: performance.now() };
    this.stage.setPointerCapture(e.pointerId);
    e.preventDefault();
    this.requestFrame();
  }

  /** Track a finger; return true when it is done with (a second finger: a gesture, or a palm). */
  touchDown(e) {
    const { touches, drawing } = this;
    touches.set(e.pointerId, this.local(e));
    if (touches.size === 2) {
      if (drawing && drawing.pointerType === 'touch') {
        if (performance.now() - drawing.startedAt < TWO_FINGER_WINDOW_MS) {
          this.handlers.cancelStroke();
          this.drawing = null;
          this.gesture = true;
        } else {
          touches.delete(e.pointerId); // a resting palm: ignore it, keep drawing
          return true;
        }
      } else if (!drawing) this.gesture = true;
      this.stage.setPointerCapture(e.pointerId);
      e.preventDefault();
      return true;
    }
    return touches.size > 2;
  }

  onPointerMove(e) {
    const { touches, panning, drawing } = this;
    if (e.pointerType === 'pen') this.lastPenAt = performance.now();
    if (this.gesture && touches.has(e.pointerId)) {
      const ids = [...touches.keys()];
      const oldA = touches.get(ids[0]);
      const oldB = touches.get(ids[1]);
      touches.set(e.pointerId, this.local(e));
      if (oldA && oldB) this.handlers.pinch(oldA, oldB, touches.get(ids[0]), touches.get(ids[1]));
      return;
    }
    if (e.pointerType === 'touch' && touches.has(e.pointerId)) touches.set(e.pointerId, this.local(e));
    if (panning && e.pointerId === panning.pointerId) {
      const [sx, sy] = this.local(e);
      this.handlers.pan(sx - panning.x, sy - panning.y);
      panning.x = sx;
      panning.y = sy;
      return;
    }
    if (drawing && e.pointerId === drawing.pointerId) {
      const samples = typeof e.getCoalescedEvents === 'function' ? e.getCoalescedEvents() : [];
      for (const sample of samples.length ? samples : [e]) {
        const [sx, sy] = this.local(sample);
        this.handlers.addPoint(sx, sy, this.when(sample), sample.pressure);
      }
      this.requestFrame();
    }
    if (!drawing && !panning && e.pointerType !== 'touch') {
      const [sx, sy] = this.local(e);
      this.handlers.hover(sx, sy);
    }
  }

  onPointerUp(e) {
    if (this.touches.has(e.pointerId)) {
      this.touches.delete(e.pointerId);
      if (this.touches.size === 0) this.gesture = false;
    }
    if (this.panning && e.pointerId === this.panning.pointerId) this.panning = null;
    if (this.drawing && e.pointerId === this.drawing.pointerId) {
      this.drawing = null;
      this.handlers.endStroke(); // pointercancel too: keep what was drawn, never lose work
    }
  }

  onPointerLeave(e) {
    if (e.pointerType !== 'touch' && !this.drawing) this.handlers.hover(null, null);
  }

  onWheel(e) {
    e.preventDefault();
    this.rect = this.stage.getBoundingClientRect();
    const unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? 400 : 1;
    const speed = e.ctrlKey ? 0.01 : 0.0015; // trackpad pinches arrive as ctrl+wheel with small deltas
    const factor = Math.exp(-e.deltaY * unit * speed);
    const [sx, sy] = this.local(e);
    this.handlers.zoom(factor, sx, sy);
  }

  onKeyDown(e) {
    if (e.code !== 'Space') this.lastInput = 'keyboard'; // Tab, arrows: what is focused next was not clicked
    if (e.code === 'Space' && spacePans(e.target, this.stage, this.clicked)) {
      e.preventDefault();
      if (!this.spaceHeld) {
        this.spaceHeld = true;
        this.handlers.spaceChanged(true);
      }
    }
  }

  onKeyUp(e) {
    if (e.code === 'Space' && this.spaceHeld) {
      this.spaceHeld = false;
      this.handlers.spaceChanged(false);
    }
  }

  // Space released in another window (Alt+Tab while panning) sends no keyup here: without this,
  // the page would stay in pan mode and refuse to draw until Space was pressed again.
  onBlur() {
    if (!this.spaceHeld) return;
    this.spaceHeld = false;
    this.handlers.spaceChanged(false);
  }
}
