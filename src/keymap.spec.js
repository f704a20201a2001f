import { describe, expect, it } from 'vitest';
import { commandFor, modifierName, radioStep, shortcuts } from './keymap.js';

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
    [key('B'), { command: 'tool', arg: 'brush' }],
    [key('L'), { command: 'tool', arg: 'lasso' }],
    [key('0'), { command: 'fit' }],
    [key('Escape'), { command: 'escape' }],
  ])('maps %o to %o', (event, expected) => {
    expect(commandFor(event)).toEqual(expected);
  });

  it('leaves keys alone while the annotator types in the text box', () => {
    expect(commandFor({ key: 'e', target: { tagName: 'TEXTAREA' } })).toBeNull();
  });

  it('ignores keys with no meaning', () => {
    expect(commandFor(key('k'))).toBeNull();
    expect(commandFor(key('Shift'))).toBeNull();
    expect(commandFor(key('toString'))).toBeNull();
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

  it('shows the help panel’s undo keys with the platform’s modifier', () => {
    expect(shortcuts('⌘')).toContainEqual(['⌘+Z', 'Undo']);
    expect(shortcuts('Ctrl')).toContainEqual(['Ctrl+Shift+Z / Ctrl+Y', 'Redo']);
  });

  it('undoes with Cmd+Z as shown on a Mac', () => {
    expect(commandFor(key('z', { metaKey: true }))).toEqual({ command: 'undo' });
  });
});

describe('radioStep', () => {
  it.each([
    ['ArrowRight', 0, 1],
    ['ArrowDown', 1, 0], // wraps to the first
    ['ArrowLeft', 0, 1], // wraps to the last
    ['ArrowUp', 1, 0],
    ['Home', 1, 0],
    ['End', 0, 1],
    ['Enter', 0, null],
    [' ', 0, null],
  ])('%s from %i of two goes to %s', (key, from, to) => {
    expect(radioStep(key, from, 2)).toBe(to);
  });

  it('moves nowhere in an empty group', () => {
    expect(radioStep('ArrowRight', 0, 0)).toBeNull();
  });
});
