import { describe, expect, it } from 'vitest';
import { rasterize } from './geometry/rasterize.js';
import { MaskReplayer, countReached, replaySchedule } from './replay.js';

const stroke = (tool, width, points) => ({ tool, width, points: points.map(([x, y, t]) => [x, y, t, 0.5]) });
const times = (schedule) => schedule.times.map((t) => Array.from(t));

describe('replaySchedule', () => {
  it('keeps each point at its own t when the strokes are in time order', () => {
    const schedule = replaySchedule([
      stroke('brush', 4, [[1, 1, 100], [2, 2, 150]]),
      stroke('eraser', 4, [[1, 1, 400], [3, 3, 420], [4, 4, 500]]),
    ]);
    expect(times(schedule)).toEqual([[100, 150], [400, 420, 500]]);
    expect(schedule.duration).toBe(500);
  });

  it('shortens every pause longer than maxGapMs to maxGapMs, the lead-in included', () => {
    const schedule = replaySchedule(
      [stroke('brush', 4, [[1, 1, 5000], [2, 2, 5100]]), stroke('lasso', 1, [[0, 0, 65100], [5, 0, 65200], [5, 5, 70000]])],
      { maxGapMs: 1000 },
    );
    expect(times(schedule)).toEqual([[1000, 1100], [2100, 2200, 3200]]);
    expect(schedule.duration).toBe(3200);
  });

  it('never goes back in time when a later stroke claims an earlier t (another device’s clock)', () => {
    const schedule = replaySchedule([
      stroke('brush', 4, [[1, 1, 900], [2, 2, 1000]]),
      stroke('brush', 4, [[1, 1, 200], [2, 2, 300], [3, 3, 1100]]),
    ]);
    expect(times(schedule)).toEqual([[900, 1000], [1000, 1000, 1100]]);
  });

  it('schedules the strokes in the document’s order, which is the order that paints the mask', () => {
    const schedule = replaySchedule([stroke('brush', 4, [[1, 1, 50]]), stroke('eraser', 4, [[1, 1, 10]])]);
    expect(times(schedule)).toEqual([[50], [50]]);
  });

  it('gives an empty document a zero duration', () => {
    expect(replaySchedule([]).duration).toBe(0);
  });
});

describe('countReached', () => {
  it.each([
    [[], 5, 0],
    [[10, 20, 20, 30], 9, 0],
    [[10, 20, 20, 30], 10, 1],
    [[10, 20, 20, 30], 20, 3],
    [[10, 20, 20, 30], 1e9, 4],
  ])('counts the times of %j at or before %d as %d', (list, time, expected) => {
    expect(countReached(Float64Array.from(list), time)).toBe(expected);
  });
});

function randomStrokes(seed, count, width, height) {
  let state = seed;
  const random = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  const tools = ['brush', 'brush', 'eraser', 'lasso', 'lasso-eraser'];
  const strokes = [];
  let t = 0;
  for (let k = 0; k < count; k++) {
    const tool = tools[Math.floor(random() * tools.length)];
    const n = 1 + Math.floor(random() * 8) + (tool.startsWith('lasso') ? 2 : 0);
    const points = [];
    for (let i = 0; i < n; i++) {
      t += Math.floor(random() * 40);
      points.push([random() * (width + 10) - 5, random() * (height + 10) - 5, t]);
    }
    strokes.push(stroke(tool, 0.5 + random() * 9, points));
    t += Math.floor(random() * 3000);
  }
  return strokes;
}

describe('MaskReplayer', () => {
  const W = 37;
  const H = 29;

  it('ends on exactly the stored mask, for random strokes of every tool', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const strokes = randomStrokes(seed, 12, W, H);
      const replayer = new MaskReplayer(strokes, W, H, { maxGapMs: 500 });
      for (let time = 0; time <= replayer.duration; time += 97) replayer.seek(time);
      replayer.seek(replayer.duration);
      expect(replayer.finished).toBe(true);
      expect(Array.from(replayer.mask)).toEqual(Array.from(rasterize(strokes, W, H)));
    }
  });

  it('shows at any moment the mask of the points reached so far, lassos once closed', () => {
    const strokes = randomStrokes(7, 10, W, H);
    const replayer = new MaskReplayer(strokes, W, H);
    const { times: schedule, duration } = replayer.schedule;
    for (let time = 0; time <= duration; time += 211) {
      replayer.seek(time);
      const reached = [];
      strokes.forEach((s, k) => {
        const n = countReached(schedule[k], time);
        const closed = n === s.points.length;
        if (n > 0 && (closed || !s.tool.startsWith('lasso'))) reached.push({ ...s, points: s.points.slice(0, n) });
      });
      expect(Array.from(replayer.mask)).toEqual(Array.from(rasterize(reached, W, H)));
    }
  });

  it('repaints from the start when scrubbed back, and says the whole image changed', () => {
    const strokes = randomStrokes(3, 8, W, H);
    const replayer = new MaskReplayer(strokes, W, H);
    replayer.seek(replayer.duration);
    const half = replayer.duration / 2;
    expect(replayer.seek(half)).toEqual({ x0: 0, y0: 0, x1: W - 1, y1: H - 1 });
    const fresh = new MaskReplayer(strokes, W, H);
    fresh.seek(half);
    expect(Array.from(replayer.mask)).toEqual(Array.from(fresh.mask));
  });

  it('reports the rectangle a step painted, and null when nothing changed', () => {
    const replayer = new MaskReplayer([stroke('brush', 2, [[5.5, 5.5, 10], [9.5, 5.5, 20]])], 20, 20);
    expect(replayer.seek(5)).toBeNull();
    expect(replayer.seek(10)).toEqual({ x0: 4, y0: 4, x1: 6, y1: 6 });
    expect(replayer.seek(20)).toEqual({ x0: 4, y0: 4, x1: 10, y1: 6 });
    expect(replayer.seek(30)).toBeNull();
  });

  it('gives the stroke being drawn with the points reached, and nothing between strokes', () => {
    const strokes = [stroke('lasso', 1, [[1, 1, 10], [9, 1, 20], [9, 9, 30]]), stroke('brush', 3, [[2, 2, 100]])];
    const replayer = new MaskReplayer(strokes, 12, 12);
    replayer.seek(20);
    expect(replayer.current()).toMatchObject({ tool: 'lasso', points: strokes[0].points.slice(0, 2) });
    expect(replayer.mask.every((v) => v === 0)).toBe(true);
    replayer.seek(50);
    expect(replayer.current()).toBeNull();
    expect(replayer.mask.some((v) => v === 1)).toBe(true);
  });
});
