import { describe, expect, it } from 'vitest';
import { displayName, formatClock, formatDuration, formatPercent, importedFrom } from './format.js';

describe('formatDuration', () => {
  it.each([
    [null, '—'],
    [850, '850 ms'],
    [4230, '4.2 s'],
    [48210, '48 s'],
    [185000, '3 min 05 s'],
    [3720000, '1 h 02 min'],
  ])('writes %s ms as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe('formatClock and formatPercent', () => {
  it('writes a replay clock in minutes and seconds', () => {
    expect(formatClock(0)).toBe('0:00');
    expect(formatClock(65999)).toBe('1:05');
  });

  it('writes a share as a percentage, or a dash when unknown', () => {
    expect(formatPercent(0.875)).toBe('88%');
    expect(formatPercent(null)).toBe('—');
  });
});

describe('displayName', () => {
  it('drops the images/ folder, and only that', () => {
    expect(displayName('images/iris_01.png')).toBe('iris_01.png');
    expect(displayName('images/left/iris_01.png')).toBe('left/iris_01.png');
    expect(displayName('scans/images/x.png')).toBe('scans/images/x.png');
  });
});

describe('importedFrom', () => {
  it('says where an imported annotation came from and how its strokes were found', () => {
    const client = { imported_from: 'original-eyetagger', original_id: 7, strokes_from: 'png' };
    expect(importedFrom(client)).toBe(
      'Imported from the original EyeTagger (its row 7): the mask is the one it stored; its strokes trace the original PNG’s mask along pixel edges.',
    );
    expect(importedFrom({ ...client, strokes_from: 'svg' })).toContain('SVG’s, corrected along pixel edges');
  });

  it('says nothing of work drawn here', () => {
    expect(importedFrom({ user_agent: 'Firefox', device_pixel_ratio: 2 })).toBeNull();
    expect(importedFrom(undefined)).toBeNull();
  });
});
