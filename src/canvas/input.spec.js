import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { attachInput, spacePans } from './input.js';

/** An event target that records its listeners, so a test can see what is left attached. */
function recordingTarget(extra = {}) {
  const listeners = [];
  return {
    listeners,
    addEventListener: (type, fn, options) => listeners.push({ type, fn, capture: !!(options && options.capture) }),
    removeEventListener: (type, fn, options) => {
      const i = listeners.findIndex((l) => l.type === type && l.fn === fn && l.capture === !!(options && options.capture));
      if (i >= 0) listeners.splice(i, 1);
    },
    fire(type, event) {
      for (const l of listeners.filter((x) => x.type === type)) l.fn(event);
    },
    ...extra,
  };
}

const stage = () => recordingTarget({ getBoundingClientRect: () => ({ left: 0, top: 0, width: 800, height: 600 }), setPointerCapture: () => {} });

const pointer = (extra) => ({
  pointerId: 1, pointerType: 'mouse', button: 0, isPrimary: true, clientX: 10, clientY: 20, timeStamp: 5, pressure: 0.5,
  preventDefault: () => {}, ...extra,
});

function recordingHandlers() {
  const calls = [];
  const record = (name, result) => (...args) => {
    calls.push([name, ...args]);
    return result;
  };
  const handlers = {
    beginStroke: record('beginStroke', true), addPoint: record('addPoint'), frame: record('frame'), endStroke: record('endStroke'),
    cancelStroke: record('cancelStroke'), pan: record('pan'), pinch: record('pinch'), zoom: record('zoom'), hover: record('hover'),
    spaceChanged: record('spaceChanged'),
  };
  return { handlers, calls };
}

describe('attachInput', () => {
  let win;
  let frames;

  beforeEach(() => {
    win = recordingTarget();
    frames = new Map();
    let next = 1;
    vi.stubGlobal('window', win);
    vi.stubGlobal('requestAnimationFrame', (fn) => {
      frames.set(next, fn);
      return next++;
    });
    vi.stubGlobal('cancelAnimationFrame', (id) => frames.delete(id));
  });
  afterEach(() => vi.unstubAllGlobals());

  it('removes every listener it added, the context menu’s included', () => {
    const el = stage();
    const detach = attachInput(el, recordingHandlers().handlers);
    expect(el.listeners.map((l) => l.type)).toContain('contextmenu');
    expect(win.listeners.length).toBeGreaterThan(0);
    detach();
    expect(el.listeners).toEqual([]);
    expect(win.listeners).toEqual([]);
  });

  it('keeps the context menu from opening over the stage', () => {
    const el = stage();
    attachInput(el, recordingHandlers().handlers);
    const event = { preventDefault: vi.fn() };
    el.fire('contextmenu', event);
    expect(event.preventDefault).toHaveBeenCalled();
  });

  it('cancels a frame still pending when it detaches', () => {
    const el = stage();
    const { handlers, calls } = recordingHandlers();
    const detach = attachInput(el, handlers);
    el.fire('pointerdown', pointer());
    expect(frames.size).toBe(1);
    detach();
    expect(frames.size).toBe(0);
    expect(calls.filter(([name]) => name === 'frame')).toEqual([]);
  });

  it('leaves pan mode when the window loses focus with Space held', () => {
    const el = stage();
    const { handlers, calls } = recordingHandlers();
    attachInput(el, handlers);
    win.fire('keydown', { code: 'Space', target: null, preventDefault: () => {} });
    win.fire('blur', {});
    expect(calls.filter(([name]) => name === 'spaceChanged')).toEqual([['spaceChanged', true], ['spaceChanged', false]]);
    // Back in the window, a plain drag draws again.
    el.fire('pointerdown', pointer());
    expect(calls.some(([name]) => name === 'beginStroke')).toBe(true);
  });
});

describe('spacePans', () => {
  const inside = { tagName: 'CANVAS' };
  const stageEl = { tagName: 'DIV', contains: (t) => t === inside };
  const fit = { tagName: 'BUTTON' };
  it.each([
    ['nothing focused', null, true],
    ['the page', { tagName: 'BODY' }, true],
    ['the stage', stageEl, true],
    ['a canvas in the stage', inside, true],
    ['a button reached by the keyboard', { tagName: 'BUTTON' }, false],
    ['the button the mouse clicked', fit, true],
    ['a link reached by the keyboard', { tagName: 'A' }, false],
    ['a text field', { tagName: 'TEXTAREA' }, false],
    ['a slider, even clicked', { tagName: 'INPUT' }, false],
  ])('on %s: %s', (_what, target, pans) => {
    expect(spacePans(target, stageEl, target && target.tagName === 'INPUT' ? target : fit)).toBe(pans);
  });

  it('leaves Space on a button reached by the keyboard alone, and pans on one the mouse clicked', () => {
    const win = recordingTarget();
    vi.stubGlobal('window', win);
    const { handlers, calls } = recordingHandlers();
    attachInput(stage(), handlers);
    const [next, fitButton] = [{ tagName: 'BUTTON' }, { tagName: 'BUTTON' }];
    win.fire('keydown', { code: 'Tab', target: null, preventDefault: () => {} });
    win.fire('focusin', { target: next });
    const space = { code: 'Space', target: next, preventDefault: vi.fn() };
    win.fire('keydown', space);
    expect(space.preventDefault).not.toHaveBeenCalled(); // the browser presses the button
    expect(calls.filter(([name]) => name === 'spaceChanged')).toEqual([]);
    win.fire('pointerdown', {});
    win.fire('focusin', { target: fitButton });
    win.fire('keydown', { code: 'Equal', target: fitButton, preventDefault: () => {} }); // a shortcut in between
    const pan = { code: 'Space', target: fitButton, preventDefault: vi.fn() };
    win.fire('keydown', pan);
    expect(pan.preventDefault).toHaveBeenCalled();
    expect(calls.filter(([name]) => name === 'spaceChanged')).toEqual([['spaceChanged', true]]);
    vi.unstubAllGlobals();
  });
});
