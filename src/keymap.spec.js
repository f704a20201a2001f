import { describe, expect, it } from 'vitest';
import { commandFor, modifierName } from './keymap.js';

const key = (k, extra = {}) => ({ key: k, target: { tagName: 'DIV' }, ...extra });

describe('commandFor', () => {
  it.each([
    [key('z', { ctrlKey: true }), { command: 'undo' }],
    [key('Z', { ctrlKey: true, shiftKey: true }), { command: 'redo' }],
    [key('y', { ctrlKey: true }), { command: 'redo' }],
    [key('3'), { command: 'choose', arg: 2 }],
    [key('['), { command: 'size', arg: -1 }],
    [key(']'), { command: 'size', arg: 1 }],
    [key('q'), { command: 'previous' }],
    [key('ArrowRight'), { command: 'next' }],
    [key('L', { shiftKey: true }), { command: 'tool', arg: 'lasso-eraser' }],
    [key('+'), { command: 'zoom', arg: 1.25 }],
    [key('s'), { command: 'skip' }],
    [key('S', { shiftKey: true }), { command: 'skip' }],
  ])('maps %o to %o', (event, expected) => {
    expect(commandFor(event)).toEqual(expected);
  });

  it('leaves keys alone while the annotator types in the text box', () => {
    expect(commandFor({ key: 'e', target: { tagName: 'TEXTAREA' } })).toBeNull();
  });

  it('ignores keys with no meaning', () => {
    expect(commandFor(key('k'))).toBeNull();
  });
});

describe('modifierName', () => {
  it.each([
    ['MacIntel', '⌘'],
    ['macOS', '⌘'],
    ['iPad', '⌘'],
    ['Win32', 'Ctrl'],
    ['Linux x86_64', 'Ctrl'],
    ['', 'Ctrl'],
  ])('names the undo key on %s %s', (platform, expected) => {
    expect(modifierName(platform)).toBe(expected);
  });

  it('undoes with Cmd+Z as shown on a Mac', () => {
    expect(commandFor(key('z', { metaKey: true }))).toEqual({ command: 'undo' });
  });
});
