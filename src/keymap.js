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

export const MOD = modifierName();

export const SHORTCUTS = [
  ['B', 'Brush'],
  ['X', 'Eraser'],
  ['L', 'Lasso fill'],
  ['Shift+L', 'Lasso erase'],
  ['[ / ]', 'Smaller / larger brush'],
  [`${MOD}+Z`, 'Undo'],
  [`${MOD}+Shift+Z / ${MOD}+Y`, 'Redo'],
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

/** Return {command, arg?} for a keydown event, or null when the key means nothing here. */
export function commandFor(event) {
  const target = event.target;
  const tag = target && target.tagName;
  if (tag === 'TEXTAREA' || tag === 'INPUT' || tag === 'SELECT' || (target && target.isContentEditable)) return null;
  const key = event.key;
  const mod = event.ctrlKey || event.metaKey;
  if (mod) {
    const lower = key.toLowerCase();
    if (lower === 'z') return { command: event.shiftKey ? 'redo' : 'undo' };
    if (lower === 'y') return { command: 'redo' };
    return null;
  }
  if (event.altKey) return null;
  if (/^[1-9]$/.test(key)) return { command: 'choose', arg: Number(key) - 1 };
  switch (key) {
    case 'b':
    case 'B':
      return { command: 'tool', arg: 'brush' };
    case 'x':
    case 'X':
      return { command: 'tool', arg: 'eraser' };
    case 'l':
      return { command: 'tool', arg: 'lasso' };
    case 'L':
      return { command: 'tool', arg: event.shiftKey ? 'lasso-eraser' : 'lasso' };
    case '[':
      return { command: 'size', arg: -1 };
    case ']':
      return { command: 'size', arg: 1 };
    case '+':
    case '=':
      return { command: 'zoom', arg: 1.25 };
    case '-':
    case '_':
      return { command: 'zoom', arg: 0.8 };
    case '0':
    case 'f':
    case 'F':
      return { command: 'fit' };
    case 'r':
    case 'R':
      return { command: 'reference' };
    case 's':
    case 'S':
      return { command: 'skip' };
    case 'q':
    case 'Q':
    case 'ArrowLeft':
      return { command: 'previous' };
    case 'e':
    case 'E':
    case 'ArrowRight':
      return { command: 'next' };
    case '?':
      return { command: 'help' };
    case 'Escape':
      return { command: 'escape' };
    default:
      return null;
  }
}
