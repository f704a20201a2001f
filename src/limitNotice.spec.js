import { describe, expect, it } from 'vitest';
import { limitNotice, longOutlineNotice, outlineCutNotice } from './limitNotice.js';

describe('limitNotice', () => {
  it('says nothing well within the limits', () => {
    expect(limitNotice({ strokes: 0, points: 0 })).toBeNull();
    expect(limitNotice({ strokes: 4499, points: 224999 })).toBeNull();
  });

  it('warns from 90% of the strokes, or of the points, naming the nearer one', () => {
    expect(limitNotice({ strokes: 4500, points: 1000 })).toEqual({
      level: 'near',
      message: 'This image holds 4,500 of the 5,000 strokes the server accepts: fill large areas with the lasso (L) rather than the brush.',
    });
    expect(limitNotice({ strokes: 100, points: 240000 }).message).toMatch(/^This image holds 240,000 of the 250,000 points/);
  });

  it('says the stroke limit is reached, and what to do', () => {
    expect(limitNotice({ strokes: 5000, points: 9000 }, 'Ctrl')).toEqual({
      level: 'full',
      message:
        'This image has reached the 5,000-stroke limit, so new strokes are not drawn. Undo some strokes (Ctrl+Z), ' +
        'or Clear and fill large areas with the lasso (L): one outline covers what many brush strokes do.',
    });
  });

  it('names the undo key of the annotator’s platform', () => {
    expect(limitNotice({ strokes: 5000, points: 9000 }, '⌘').message).toContain('Undo some strokes (⌘+Z)');
  });

  it('says the point limit is reached once not even a lasso fits', () => {
    expect(limitNotice({ strokes: 10, points: 249997 }).level).toBe('near');
    expect(limitNotice({ strokes: 10, points: 249998 }).message).toMatch(/^This image has reached the 250,000-point limit, so new strokes are not drawn\. Undo/);
  });

  it('says a draft past the limits cannot be saved', () => {
    expect(limitNotice({ strokes: 5012, points: 100 }).message).toMatch(/^This image holds 5,012 strokes, more than the 5,000 the server accepts, so it cannot be saved\. Undo/);
    expect(limitNotice({ strokes: 12, points: 250001 }).message).toMatch(/^This image holds 250,001 points, more than the 250,000/);
  });

  it('says a lasso outline stops at the points one stroke may hold', () => {
    expect(longOutlineNotice().message).toBe('One outline may hold 20,000 points: this one stops here and closes when you lift the pointer.');
  });

  it('words a cut outline by the limit it met', () => {
    expect(outlineCutNotice({ limit: 'stroke', size: { strokes: 1, points: 20000 } })).toEqual(longOutlineNotice());
    expect(outlineCutNotice({ limit: 'document', size: { strokes: 12, points: 250000 } }).message).toMatch(/250,000-point limit/);
  });

  it('says an outline stops at the ink one save may paint, and what to do', () => {
    expect(outlineCutNotice({ limit: 'ink', size: { strokes: 1, points: 900 } })).toEqual({
      level: 'full',
      message:
        'One outline may cross 400,000 image rows in all (up and down, edge by edge): this one stops here and closes ' +
        'when you lift the pointer. Fill what is left with another outline.',
    });
  });
});
