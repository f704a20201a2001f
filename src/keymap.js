/**
 * Keyboard shortcuts of the Annotate page (as in the original tool: Q/E and the arrows move
 * between images). Return the command a key event asks for, or null. Pure, so it is tested
 * without a browser and listed in one place for the help panel.
 */

/**
 * The name of the key that undoes with Z on this platform: ⌘ on Apple's systems (Cmd+Z; Ctrl+Z
 * works there too, see commandFor), Ctrl elsewhere.
 */
export function modifierName(platform = globalThis.navigator?.userAgentData?.platform ?? globalThis.navigator?.platform ?? '') {
  return /mac|iphone|ipad|ipod/i.test(platform) ? '⌘' : 'Ctrl';
}

/** Return the shortcuts as [keys, what they do] for the help panel, with `mod` naming the undo key's modifier. */
export function shortcuts(mod = modifierName()) {
  return [
    ['B', 'Brush'],
    ['X', 'Eraser'],
    ['L', 'Lasso fill'],
    ['Shift+L', 'Lasso erase'],
    ['[ / ]', 'Smaller / larger brush'],
    [`${mod}+Z`, 'Undo'],
    [`${mod}+Shift+Z / ${mod}+Y`, 'Redo'],
    ['1–9', 'Choose an answer'],
    ['+ / −', 'Zoom in / out'],
    ['0 or F', 'Fit to screen'],
    ['Space+drag', 'Pan (also middle-drag, two fingers)'],
    ['R', 'Show / hide the reference image'],
    ['Q / ←', 'Previous image'],
    ['E / →', 'Next image (submits this one)'],
    ['S', 'Skip this image (asks why)'],
    ['?', 'Show / hide these shortcuts'],
  ];
}

/** The commands of keys pressed without Ctrl, ⌘ or Alt: key -> [command, arg]. */
const PLAIN_KEYS = new Map(
  Object.entries({
    b: ['tool', 'brush'],
    x: ['tool', 'eraser'],
    l: ['tool', 'lasso'],
    '[': ['size', -1],
    ']': ['size', 1],
    '+': ['zoom', 1.25],
    '=': ['zoom', 1.25],
    '-': ['zoom', 0.8],
    _: ['zoom', 0.8],
    0: ['fit'],
    f: ['fit'],
    r: ['reference'],
    s: ['skip'],
    q: ['previous'],
    ArrowLeft: ['previous'],
    e: ['next'],
    ArrowRight: ['next'],
    '?': ['help'],
    Escape: ['escape'],
  }),
);

/** Return {command, arg?} for a keydown event, or null when the key means nothing here. */
export function commandFor(event) {
  const target = event.target;
  const tag = target && target.tagName;
  if (tag === 'TEXTAREA' || tag === 'INPUT' || tag === 'SELECT' || (target && target.isContentEditable)) return null;
  const key = event.key;
  if (event.ctrlKey || event.metaKey) {
    const lower = key.toLowerCase();
    if (lower === 'z') return { command: event.shiftKey ? 'redo' : 'undo' };
    if (lower === 'y') return { command: 'redo' };
    return null;
  }
  if (event.altKey) return null;
  if (/^[1-9]$/.test(key)) return { command: 'choose', arg: Number(key) - 1 };
  if (key === 'L' && event.shiftKey) return { command: 'tool', arg: 'lasso-eraser' };
  // Letters work with Caps Lock or Shift too; named keys (ArrowLeft, Escape) match as they are.
  const found = PLAIN_KEYS.get(key.length === 1 ? key.toLowerCase() : key);
  if (!found) return null;
  return found.length > 1 ? { command: found[0], arg: found[1] } : { command: found[0] };
}

/**
 * Return the index an arrow key (or Home, End) moves to in a radio group of `count` options from
 * `index`, wrapping around as WAI-ARIA's radio group does; null for any other key.
 */
export function radioStep(key, index, count) {
  if (!count) return null;
  if (key === 'ArrowRight' || key === 'ArrowDown') return (index + 1) % count;
  if (key === 'ArrowLeft' || key === 'ArrowUp') return (index - 1 + count) % count;
  if (key === 'Home') return 0;
  if (key === 'End') return count - 1;
  return null;
}
