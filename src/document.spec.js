import { describe, expect, it } from 'vitest';
import { changeJson, serverCopy, strokeInk } from './document.js';

const brush = (points, width = 4) => ({ tool: 'brush', width, points: points.map(([x, y], k) => [x, y, k, 0.5]) });

describe('strokeInk (as backend/api/strokes.py ink counts it)', () => {
  it.each([
    ['a disc of width 4 at y = 5 covers rows 3 to 6', brush([[5, 5]]), 4],
    ['a segment from y = 5 to y = 15, width 4, covers rows 3 to 16', brush([[5, 5], [5, 15]]), 14],
    ['two segments count their rows each', brush([[5, 5], [5, 15], [5, 5]]), 28],
    ['rows outside the image do not count', brush([[5, -50], [5, -40]]), 0],
    ['a lasso counts the rows of its edges, the closing one too', { tool: 'lasso', width: 1, points: [[0, 0, 0, 0.5], [9, 0, 1, 0.5], [9, 10, 2, 0.5]] }, 20],
  ])('%s', (_, stroke, ink) => {
    expect(strokeInk(stroke, 48)).toBe(ink);
  });
});

describe('changeJson', () => {
  const image = { id: 1, width: 64, height: 48 };
  const base = serverCopy({ strokes: [brush([[1, 1]]), brush([[2, 2]])], label: 'real', text: 'a', status: 'draft' }, 4);

  it('says what was removed from the end and appended, and only the fields that changed', () => {
    const draft = { image, strokes: [base.strokes[0], brush([[3, 3]])], label: 'real', text: 'ab', status: 'draft', activeMs: 12.4 };
    const body = JSON.parse(changeJson(base, draft, { op: 'x-1', maxInk: 1000 }));
    expect(body).toEqual({ version: 4, remove: 1, append: [brush([[3, 3]])], text: 'ab', op: 'x-1', active_ms: 12 });
  });

  it('finds equal strokes by their content when they are not the same objects (read back from the server)', () => {
    const draft = { image, strokes: [brush([[1, 1]]), brush([[2, 2]])], label: null, text: 'a', status: 'draft' };
    const body = JSON.parse(changeJson(base, draft, { op: 'x-2', maxInk: 1000 }));
    expect([body.remove, body.append, body.label]).toEqual([0, [], null]);
  });

  it('gives null when the appended strokes hold more ink than one change may paint', () => {
    const draft = { image, strokes: [...base.strokes, brush([[5, 5], [5, 15]])], label: 'real', text: 'a', status: 'draft' };
    expect(changeJson(base, draft, { op: 'x-3', maxInk: 13 })).toBeNull();
    expect(changeJson(base, draft, { op: 'x-3', maxInk: 14 })).not.toBeNull();
  });

  it('carries a participant\'s guidance toggles when they differ from those the server holds, and the time-out', () => {
    const events = [{ t: 10, shown: true }];
    const held = serverCopy({ ...base, guidanceEvents: events }, 4);
    const same = { image, strokes: base.strokes, label: 'real', text: 'a', status: 'draft', guidanceEvents: [{ t: 10, shown: true }] };
    expect(JSON.parse(changeJson(held, same, { op: 'g-1', maxInk: 1000 })).guidance_events).toBeUndefined();
    const toggled = { ...same, guidanceEvents: [...events, { t: 40, shown: false }] };
    expect(JSON.parse(changeJson(held, toggled, { op: 'g-2', maxInk: 1000 })).guidance_events).toEqual(toggled.guidanceEvents);
    const flipped = { ...same, guidanceEvents: [{ t: 10, shown: false }] };
    expect(JSON.parse(changeJson(held, flipped, { op: 'g-3', maxInk: 1000 })).guidance_events).toEqual([{ t: 10, shown: false }]);
    // A copy of the server's that does not say (a conflict's answer): the whole log again.
    expect(JSON.parse(changeJson(base, same, { op: 'g-4', maxInk: 1000 })).guidance_events).toEqual(events);
    const late = { ...same, timedOut: true };
    expect(JSON.parse(changeJson(held, late, { op: 'g-5', maxInk: 1000 })).timed_out).toBe(true);
    expect(JSON.parse(changeJson(held, same, { op: 'g-6', maxInk: 1000 })).timed_out).toBeUndefined();
  });
});
