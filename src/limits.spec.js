import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { documentJson } from './document.js';
import { LIMITS, canStartStroke, documentSize, fitsInDocument, roomLeft } from './limits.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const read = (path) => readFileSync(join(ROOT, path), 'utf8');

/** Return the value of a Python constant written as a number or a product of numbers (`16 * 1024 * 1024`, `5_000`). */
function pythonNumber(source, pattern, where) {
  const match = source.match(pattern);
  if (!match) throw new Error(`${where}: ${pattern} not found; update this test and src/limits.js together`);
  return match[1].split('*').reduce((product, factor) => product * Number(factor.trim().replaceAll('_', '')), 1);
}

/** Return the Limits table of the manual's strokes document page (docs/strokes.md) as {what: limit}. */
function manualLimits() {
  const page = read('docs/strokes.md');
  const start = page.indexOf('\n## Limits\n');
  if (start < 0) throw new Error('docs/strokes.md has no "## Limits" section; update this test and the page together');
  const end = page.indexOf('\n## ', start + 1);
  const rows = {};
  for (const line of page.slice(start, end < 0 ? undefined : end).split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length === 4 && cells[1] && !/^-+$/.test(cells[1]) && cells[1] !== 'what') rows[cells[1]] = cells[2];
  }
  return rows;
}

const manualNumber = (text) => Number(text.match(/^[\d,.]+/)[0].replaceAll(',', ''));

describe('LIMITS mirrors the server', () => {
  it('equals the backend’s own constants', () => {
    const strokes = read('backend/api/strokes.py');
    const field = (name) => pythonNumber(strokes, new RegExp(`^\\s+${name}: \\w+ = ([\\d_.* ]+?)\\s*(#.*)?$`, 'm'), `backend/api/strokes.py Limits.${name}`);
    expect({
      maxStrokes: field('max_strokes'),
      maxPointsPerStroke: field('max_points_per_stroke'),
      maxPoints: field('max_points'),
      minWidth: field('min_width'),
      maxWidth: field('max_width'),
      maxTMs: field('max_t_ms'),
      maxInk: field('max_ink'),
      maxTextLength: pythonNumber(read('backend/api/serializers.py'), /^MAX_TEXT_LENGTH = ([\d_]+)$/m, 'backend/api/serializers.py'),
      maxBodyBytes: pythonNumber(read('backend/settings.py'), /"ANNOTATION_MAX_BODY_BYTES", default=([\d_* ]+)\)/, 'backend/settings.py'),
    }).toEqual({ ...LIMITS });
  });

  it('equals the Limits table in docs/strokes.md', () => {
    const rows = manualLimits();
    expect(manualNumber(rows['strokes per annotation'])).toBe(LIMITS.maxStrokes);
    expect(manualNumber(rows['points per stroke'])).toBe(LIMITS.maxPointsPerStroke);
    expect(manualNumber(rows['points per annotation'])).toBe(LIMITS.maxPoints);
    expect(rows['stroke width']).toBe(`${LIMITS.minWidth} to ${LIMITS.maxWidth} image pixels`);
    expect(rows['`text`']).toBe(`${LIMITS.maxTextLength.toLocaleString('en-US')} characters`);
    expect(rows['request body']).toMatch(new RegExp(`^${LIMITS.maxBodyBytes / 1024 / 1024} MB`));
  });

  it('lets a document at every count limit fit in the request body limit', () => {
    // 5,000 strokes holding 250,000 points in all, each number as long as it can be: a 20,000-pixel
    // image (coordinates from -20,000 to 40,000, in thousandths), t at ten years, a 10,000-character text
    // of characters JSON escapes to six bytes each.
    const perStroke = LIMITS.maxPoints / LIMITS.maxStrokes;
    const point = [-19999.999, -19999.999, LIMITS.maxTMs - 0.1, 0.999];
    const strokes = Array.from({ length: LIMITS.maxStrokes }, () => ({ tool: 'lasso-eraser', width: 511.75, points: Array(perStroke).fill(point) }));
    const draft = { strokes, label: 'x'.repeat(200), text: '\u0001'.repeat(LIMITS.maxTextLength), status: 'submitted', baseVersion: 2 ** 31, activeMs: LIMITS.maxTMs, startedAt: new Date().toISOString() };
    const bytes = Buffer.byteLength(documentJson(draft, { user_agent: 'u'.repeat(500), device_pixel_ratio: 3, pointer_types: ['mouse', 'pen', 'touch'] }));
    expect(bytes).toBeLessThan(LIMITS.maxBodyBytes);
  });
});

describe('room in a document', () => {
  const stroke = (n, tool = 'brush') => ({ tool, width: 4, points: Array.from({ length: n }, (_, k) => [k, 0, k, 0.5]) });

  it('counts strokes and points', () => {
    expect(documentSize([stroke(3), stroke(1), stroke(5, 'lasso')])).toEqual({ strokes: 3, points: 9 });
    expect(documentSize([])).toEqual({ strokes: 0, points: 0 });
  });

  it.each([
    [{ strokes: 0, points: 0 }, { strokes: 5000, points: 250000 }, true],
    [{ strokes: 4999, points: 1000 }, { strokes: 1, points: 249000 }, true],
    [{ strokes: 5000, points: 1000 }, { strokes: 0, points: 249000 }, false],
    [{ strokes: 10, points: 249997 }, { strokes: 4990, points: 3 }, true],
    [{ strokes: 10, points: 249998 }, { strokes: 4990, points: 2 }, false], // too few for a lasso, so for any tool
    [{ strokes: 5012, points: 260000 }, { strokes: 0, points: 0 }, false],
  ])('a document of %o has room for %o; a stroke may start: %s', (size, room, start) => {
    expect(roomLeft(size)).toEqual(room);
    expect(canStartStroke(size)).toBe(start);
  });

  it.each([
    ['a stroke within every limit', { strokes: 10, points: 100 }, stroke(50), true],
    ['the 5,000th stroke', { strokes: 4999, points: 100 }, stroke(50), true],
    ['a 5,001st stroke', { strokes: 5000, points: 100 }, stroke(1), false],
    ['the points that fill the document exactly', { strokes: 1, points: 249950 }, stroke(50), true],
    ['one point past the document’s total', { strokes: 1, points: 249951 }, stroke(50), false],
    ['20,000 points in one stroke', { strokes: 0, points: 0 }, stroke(20000), true],
    ['20,001 points in one stroke', { strokes: 0, points: 0 }, stroke(20001), false],
    ['a lasso of two points', { strokes: 0, points: 0 }, stroke(2, 'lasso'), false],
    ['an empty brush stroke', { strokes: 0, points: 0 }, stroke(0), false],
  ])('fits in the document: %s', (_, size, s, fits) => {
    expect(fitsInDocument(size, s)).toBe(fits);
  });
});
