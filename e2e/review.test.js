/**
 * The Review page end to end, in Debian's Chromium against the real server: three annotators'
 * work is seeded through the API; a researcher sees the grid of heat maps, sorts it by
 * agreement, opens an image, toggles the masks, replays the strokes (the last frame must be
 * each annotator's stored mask, pixel for pixel, as GET mask.png serves it), reads the
 * answers and texts, and downloads every export; an annotator cannot reach the page at all.
 */

import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ACCOUNTS, ROOT, apiClient, compareMasks, createUser, decodeMaskPng, fetchBytes, launchBrowser, openPage, signIn, startServer,
} from './harness.js';

const ARTIFACTS = join(ROOT, 'artifacts');
const HOSTILE_TEXT = '<b>bold</b> & <img src=x onerror="window.__pwned=1"> the lashes';

const point = (x, y, t) => [x, y, t, 0.5];
/** A brush stroke along a line, with a point every 40 ms. */
function line(tool, width, [x0, y0], [x1, y1], t0, n = 6) {
  const points = [];
  for (let i = 0; i < n; i++) points.push(point(x0 + ((x1 - x0) * i) / (n - 1), y0 + ((y1 - y0) * i) / (n - 1), t0 + 40 * i));
  return { tool, width, points };
}
function lasso(tool, corners, t0) {
  return { tool, width: 1, points: corners.map(([x, y], i) => point(x, y, t0 + 30 * i)) };
}
/** One annotator's strokes on an image: the same shapes shifted by (dx, dy). */
function strokesFor(dx, dy) {
  return [
    line('brush', 36, [80 + dx, 110 + dy], [220 + dx, 120 + dy], 400),
    line('eraser', 10, [150 + dx, 70 + dy], [150 + dx, 170 + dy], 1200, 4),
    lasso('lasso', [[60 + dx, 150 + dy], [130 + dx, 140 + dy], [140 + dx, 210 + dy], [70 + dx, 215 + dy]], 2000),
    lasso('lasso-eraser', [[90 + dx, 170 + dy], [110 + dx, 170 + dy], [110 + dx, 190 + dy]], 2600),
    line('brush', 14, [-10 + dx, 20 + dy], [40 + dx, 30 + dy], 3100, 3), // runs off the left edge
  ];
}

describe('the Review page', { timeout: 300000 }, () => {
  let server;
  let browser;
  let page;
  let images;
  const seeded = []; // {annotation, image, annotator}

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    server = await startServer();
    await createUser(server, 'bea', 'bea-review-1');
    await createUser(server, 'chen', 'chen-review-1');
    const researcherApi = await apiClient(server.url, 'researcher', ACCOUNTS.researcher);
    images = (await researcherApi.get('/api/images/?dataset=1&page_size=50')).results;
    const clients = {
      annotator: await apiClient(server.url, 'annotator', ACCOUNTS.annotator),
      bea: await apiClient(server.url, 'bea', 'bea-review-1'),
      chen: await apiClient(server.url, 'chen', 'chen-review-1'),
    };
    const flip = (truth) => (truth === 'real' ? 'fake' : 'real');
    // [image index, annotator, shift, right answer?, status, text]
    const plan = [
      [0, 'annotator', [0, 0], true, 'submitted', HOSTILE_TEXT],
      [0, 'bea', [12, 6], true, 'submitted', 'pupil edge looks printed'],
      [0, 'chen', [30, -10], false, 'submitted', ''],
      [1, 'annotator', [0, 0], true, 'submitted', ''],
      [1, 'bea', [2, 1], true, 'submitted', ''],
      [2, 'annotator', [0, 0], false, 'submitted', 'unsure'],
      [2, 'bea', [90, 0], true, 'submitted', ''],
      [3, 'annotator', [5, 5], true, 'submitted', 'only me here'],
      [4, 'bea', [0, 0], true, 'submitted', ''],
      [4, 'chen', [20, 20], false, 'submitted', ''],
      [5, 'annotator', [0, 0], true, 'draft', ''],
    ];
    for (const [index, who, [dx, dy], right, status, text] of plan) {
      const image = images[index];
      const body = {
        strokes: strokesFor(dx, dy),
        label: right ? image.ground_truth : flip(image.ground_truth),
        text,
        status,
        version: 0,
        active_ms: 4000 + 1500 * seeded.length,
      };
      const saved = await clients[who].put(`/api/images/${image.id}/annotation/`, body);
      seeded.push({ annotation: saved.id, image: image.id, annotator: who, status });
    }
    browser = await launchBrowser();
    page = await openPage(browser, { acceptDownloads: true });
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('lets a researcher open the Review page from the datasets list', async () => {
    await signIn(page, server.url, 'researcher');
    assert.equal(await page.locator('[data-testid=start-1]').count(), 0, 'researchers read only: no Start');
    await page.click('[data-testid=review-1]');
    await page.waitForSelector('[data-testid=grid] a.card');
    assert.match(page.url(), /\/datasets\/1\/review$/);
  });

  it('shows one card per image with submitted work, each with its heat map', async () => {
    const withWork = new Set(seeded.filter((s) => s.status === 'submitted').map((s) => s.image));
    const cards = await page.$$eval('[data-testid=grid] a.card', (els) => els.map((e) => Number(e.dataset.image)));
    assert.deepEqual(new Set(cards), withWork);
    await page.locator('[data-testid=grid]').scrollIntoViewIfNeeded();
    await page.waitForFunction(
      () => [...document.querySelectorAll('[data-testid=heatmap]')].every((img) => img.complete && img.naturalWidth > 0),
      null,
      { timeout: 30000 },
    );
    const sizes = await page.$$eval('[data-testid=heatmap]', (els) => els.map((img) => [img.naturalWidth, img.naturalHeight]));
    assert.ok(sizes.every(([w, h]) => w === 320 && h === 240), `heat maps at the image's size: ${JSON.stringify(sizes)}`);
    const sources = await page.$$eval('[data-testid=heatmap]', (els) => els.map((img) => img.getAttribute('src')));
    assert.ok(sources.every((src) => /\/api\/images\/\d+\/saliency-overlay\.png/.test(src)));
  });

  it('shows the heat maps’ colour scale, with its range and what 1.0 means', async () => {
    const legend = await page.textContent('[data-testid=heat-legend]');
    assert.match(legend, /0\s*0\.5\s*1\.0/);
    assert.match(legend, /1\.0 = every annotator/);
    const background = await page.$eval('.heat-legend__bar', (el) => getComputedStyle(el).backgroundImage);
    assert.match(background, /rgb\(68, 1, 84\).*rgb\(253, 231, 37\)/, 'viridis, dark purple to yellow');
  });

  it('draws the IoU histogram and the accuracy–time scatter with one dot per annotator', async () => {
    const bars = await page.locator('[data-testid=iou-histogram] rect.bar').count();
    assert.equal(bars, 10);
    const dots = await page.$$eval('[data-testid=accuracy-time] .dot', (els) => els.map((e) => e.dataset.annotator).sort());
    assert.deepEqual(dots, ['annotator', 'bea', 'chen']);
  });

  it('saves screenshots of the grid at 1280x720 and at tablet sizes', async () => {
    await page.evaluate(() => document.querySelector('.app__main').scrollTo(0, 0));
    await page.screenshot({ path: join(ARTIFACTS, 'review-grid-1280x720.png') });
    await page.screenshot({ path: join(ARTIFACTS, 'review-grid-1280-full.png'), fullPage: true });
    await page.setViewportSize({ width: 768, height: 1024 });
    await page.evaluate(() => new Promise((r) => setTimeout(r, 300)));
    await page.screenshot({ path: join(ARTIFACTS, 'review-grid-tablet-768x1024.png') });
    await page.setViewportSize({ width: 1280, height: 720 });
  });

  it('sorts the grid by agreement, least agreed first, then most agreed first', async () => {
    const stats = await page.evaluate(async () => (await fetch('/api/datasets/1/stats/')).json());
    const byIou = (dir) =>
      stats.images
        .slice()
        .sort((a, b) => {
          const x = a.iou.mean;
          const y = b.iou.mean;
          if ((x === null) !== (y === null)) return x === null ? 1 : -1;
          return (dir === 'asc' ? x - y : y - x) || a.path.localeCompare(b.path);
        })
        .map((i) => i.id);
    await page.selectOption('[data-testid=sort]', 'agreement');
    const order = () => page.$$eval('[data-testid=grid] a.card', (els) => els.map((e) => Number(e.dataset.image)));
    assert.deepEqual(await order(), byIou('asc'));
    await page.click('[data-testid=sort-direction]');
    await page.waitForFunction(() => location.search.includes('dir=desc'));
    const descending = await order();
    assert.deepEqual(descending, byIou('desc'));
    const first = stats.images.find((i) => i.id === descending[0]);
    assert.ok(first.iou.mean > 0.9, `the most agreed image comes first (IoU ${first.iou.mean})`);
  });

  it('narrows the grid with the API’s filters: drafts included, wrong answers only', async () => {
    await page.click('[data-testid=status-all]');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=grid] a.card').length === 6);
    await page.click('[data-testid=filter-wrong]');
    await page.waitForFunction(() => location.search.includes('correct=false'));
    const wrongImages = new Set([images[0].id, images[2].id, images[4].id]);
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid=grid] a.card').length === n, wrongImages.size);
    const cards = await page.$$eval('[data-testid=grid] a.card', (els) => els.map((e) => Number(e.dataset.image)));
    assert.deepEqual(new Set(cards), wrongImages);
    await page.goto(`${server.url}/datasets/1/review?sort=agreement&dir=desc`);
    await page.waitForSelector('[data-testid=grid] a.card');
  });

  it('shows the images behind a bar of pairs of the IoU histogram, and keeps the pick in the address', async () => {
    const stats = await page.evaluate(() => JSON.parse(JSON.stringify(window.__eyetagger.store.state.review.stats)));
    const { edges, counts } = stats.iou_histogram;
    const bin = counts.findIndex((n) => n > 0);
    const [lo, hi] = [edges[bin], edges[bin + 1]];
    const inBin = (v) => v >= lo && (hi >= 1 ? v <= hi : v < hi);
    const expected = new Set(stats.images.filter((i) => i.pair_ious.some(inBin)).map((i) => i.id));
    assert.ok(expected.size > 0 && expected.size < stats.images.length);
    const cards = async () => new Set(await page.$$eval('[data-testid=grid] a.card', (els) => els.map((e) => Number(e.dataset.image))));
    await page.locator('[data-testid=iou-histogram] rect.bar').nth(bin).click(); // in Pairs, the default mode
    await page.waitForFunction(() => new URLSearchParams(location.search).has('iou'));
    assert.equal(new URLSearchParams(new URL(page.url()).search).get('iou'), `${lo}-${hi}`);
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid=grid] a.card').length === n, expected.size);
    assert.deepEqual(await cards(), expected);
    await page.reload(); // a shared link shows the same filtered view
    await page.waitForSelector('[data-testid=grid] a.card');
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid=grid] a.card').length === n, expected.size);
    assert.deepEqual(await cards(), expected);
    await page.click('.chip button');
    await page.waitForFunction(() => !new URLSearchParams(location.search).has('iou'));
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid=grid] a.card').length === n, stats.images.length);
  });

  it('opens an image with each annotator’s answer, text as text, time spent and submission time', async () => {
    await page.click(`[data-testid=image-card-${images[0].id}]`);
    await page.waitForFunction(() => window.__eyetagger.review && window.__eyetagger.review.masks().length === 3);
    const mine = seeded.find((s) => s.image === images[0].id && s.annotator === 'annotator');
    const card = page.locator(`[data-testid=answer-${mine.annotation}]`);
    assert.equal(await card.locator('[data-testid=answer-text]').textContent(), HOSTILE_TEXT);
    assert.equal(await card.locator('[data-testid=answer-text] b, [data-testid=answer-text] img').count(), 0);
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
    assert.match(await card.locator('[data-testid=answer-label]').textContent(), new RegExp(`${images[0].ground_truth}\\s*✓`));
    assert.match(await card.locator('[data-testid=answer-time]').textContent(), /^\d+(\.\d)? s$/);
    assert.notEqual((await card.locator('[data-testid=answer-submitted]').textContent()).trim(), 'not yet');
  });

  it('shows each annotator’s stored mask exactly as GET mask.png serves it', async () => {
    const masks = await layerMasks(page);
    for (const layer of masks) {
      const png = await fetchBytes(page, `/api/annotations/${layer.id}/mask.png`);
      assert.equal(png.status, 200);
      const served = decodeMaskPng(png.body);
      const { differing, iou } = compareMasks(layer.bits, served.bits);
      assert.equal(differing, 0, `annotation ${layer.id}: ${differing} pixels differ (IoU ${iou})`);
      assert.ok(served.area > 1000);
    }
  });

  it('hides and shows an annotator’s mask with its switch and with its number key', async () => {
    const first = seeded.find((s) => s.image === images[0].id && s.annotator === 'annotator').annotation;
    const canvas = page.locator(`canvas[data-annotation="${first}"]`);
    await page.click(`[data-testid=toggle-${first}]`);
    assert.equal(await page.getAttribute(`[data-testid=toggle-${first}]`, 'aria-checked'), 'false');
    assert.equal(await canvas.evaluate((c) => getComputedStyle(c).visibility), 'hidden');
    await page.keyboard.press('1');
    assert.equal(await canvas.evaluate((c) => getComputedStyle(c).visibility), 'visible');
    await page.click('[data-testid=hide-all]');
    assert.equal(await page.locator('canvas.rstage__mask:not(.is-hidden)').count(), 0);
    await page.click('[data-testid=show-all]');
    assert.equal(await page.locator('canvas.rstage__mask.is-hidden').count(), 0);
  });

  it('replays the strokes in time: empty at the start, part-way in the middle, the stored masks at the end', async () => {
    const stored = await layerMasks(page);
    const duration = await page.evaluate(() => window.__eyetagger.review.replay().duration);
    assert.ok(duration > 3000, `the replay lasts the strokes' time (${duration} ms)`);
    await scrubTo(page, 0);
    assert.ok((await layerMasks(page)).every((m) => !m.bits.includes('1')), 'nothing is drawn at time 0');
    await scrubTo(page, 1000); // after the first brush stroke, before the eraser
    const early = await layerMasks(page);
    for (const [i, m] of early.entries()) {
      const { differing } = compareMasks(m.bits, stored[i].bits);
      assert.ok(m.bits.includes('1') && differing > 0, 'part-way, each mask is drawn but not finished');
    }
    await page.selectOption('[data-testid=replay-speed]', '2');
    await page.click('[data-testid=replay-play]');
    await page.waitForFunction(() => window.__eyetagger.review.replay().playing, null, { timeout: 5000 });
    await page.screenshot({ path: join(ARTIFACTS, 'review-replay-1280x720.png') });
    await page.waitForFunction(
      () => {
        const r = window.__eyetagger.review.replay();
        return !r.playing && r.time === r.duration;
      },
      null,
      { timeout: 30000 },
    );
    const replayed = await layerMasks(page);
    for (const [i, layer] of replayed.entries()) {
      const served = decodeMaskPng((await fetchBytes(page, `/api/annotations/${layer.id}/mask.png`)).body);
      const { differing } = compareMasks(layer.bits, served.bits);
      assert.equal(differing, 0, `the replay of annotation ${layer.id} ends on its stored mask`);
      assert.equal(layer.bits, stored[i].bits);
    }
  });

  it('saves screenshots of the image view at 1280x720 and at tablet sizes', async () => {
    await page.mouse.move(10, 10);
    await page.screenshot({ path: join(ARTIFACTS, 'review-image-1280x720.png') });
    await page.click('[data-testid=view-heat]');
    await page.waitForFunction(() => {
      const img = document.querySelector('[data-testid=review-stage] img');
      return img && img.src.includes('saliency-overlay') && img.complete && img.naturalWidth > 0;
    });
    await page.screenshot({ path: join(ARTIFACTS, 'review-image-heatmap-1280x720.png') });
    await page.setViewportSize({ width: 1024, height: 768 });
    await page.evaluate(() => new Promise((r) => setTimeout(r, 300)));
    await page.screenshot({ path: join(ARTIFACTS, 'review-image-tablet-1024x768.png') });
    await page.setViewportSize({ width: 768, height: 1024 });
    await page.evaluate(() => new Promise((r) => setTimeout(r, 300)));
    await page.screenshot({ path: join(ARTIFACTS, 'review-image-tablet-768x1024.png') });
    await page.setViewportSize({ width: 1280, height: 720 });
  });

  it('goes to the next image in the grid’s order with the arrow key', async () => {
    const before = page.url();
    const [, k, n] = (await page.textContent('[data-testid=image-position]')).match(/^(\d+) of (\d+)$/).map(Number);
    assert.equal(n, 5);
    await page.keyboard.press(k < n ? 'ArrowRight' : 'ArrowLeft');
    await page.waitForFunction((url) => location.href !== url, before);
    await page.waitForFunction(() => window.__eyetagger.review && window.__eyetagger.review.masks().length > 0);
    assert.equal(await page.textContent('[data-testid=image-position]'), `${k < n ? k + 1 : k - 1} of 5`);
  });

  it('downloads every export through the API, in files that parse', async () => {
    await page.click('[data-testid=back-to-grid]');
    await page.waitForSelector('[data-testid=export-coco]');
    const submitted = seeded.filter((s) => s.status === 'submitted').length;
    const coco = JSON.parse(await download(page, 'coco'));
    assert.equal(coco.annotations.length, submitted);
    assert.equal(coco.images.length, images.length);
    assert.ok(coco.annotations.every((a) => a.segmentation && a.segmentation.counts && a.segmentation.size[0] === 240));
    assert.deepEqual(coco.categories.map((c) => c.name), ['real', 'fake']);
    const csv = await download(page, 'csv');
    const lines = csv.trim().split(/\r?\n/);
    assert.match(lines[0], /^annotation_id,image_id,file_name,sha256,ground_truth,annotator,/);
    const jsonl = (await download(page, 'jsonl')).trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(jsonl.length, submitted);
    assert.ok(jsonl.every((doc) => doc.strokes.length === 5));
    const zip = await download(page, 'masks', null);
    assert.equal(zip.subarray(0, 2).toString('latin1'), 'PK');
    assert.ok(zip.includes(Buffer.from('annotations.csv')) && zip.includes(Buffer.from('masks/iris_01__bea.png')));
  });

  it('keeps annotators out: no Review link, and the page’s address leads back to their datasets without loading it', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    const annotatorPage = await context.newPage();
    const scripts = [];
    annotatorPage.on('request', (request) => scripts.push(request.url()));
    await signIn(annotatorPage, server.url, 'annotator');
    assert.equal(await annotatorPage.locator('[data-testid^=review-], [data-testid=nav-review]').count(), 0);
    await annotatorPage.goto(`${server.url}/datasets/1/review`);
    await annotatorPage.waitForSelector('.dataset-card');
    assert.equal(new URL(annotatorPage.url()).pathname, '/');
    assert.match(await annotatorPage.textContent('[role=alert]'), /researchers and admins/);
    await annotatorPage.goto(`${server.url}/datasets/1/review/images/${images[0].id}`);
    await annotatorPage.waitForSelector('.dataset-card');
    const reviewScripts = scripts.filter((url) => /\/static\/assets\/Review/.test(url));
    assert.deepEqual(reviewScripts, [], 'the Review page’s code was never downloaded');
    const sw = await (await fetch(`${server.url}/sw.js`)).text();
    assert.doesNotMatch(sw, /Review/, 'nor precached by the service worker');
    const stats = await annotatorPage.evaluate(async () => (await fetch('/api/datasets/1/stats/')).status);
    assert.equal(stats, 403);
    await context.close();
  });
});

/** Move the replay's scrubber to `ms`, as dragging it does. */
function scrubTo(page, ms) {
  return page.locator('[data-testid=replay-scrub]').evaluate((input, value) => {
    input.value = String(value);
    input.dispatchEvent(new Event('input', { bubbles: true }));
  }, ms);
}

/** Return the review layers' masks as {id, bits}. */
function layerMasks(page) {
  return page.evaluate(() =>
    window.__eyetagger.review.masks().map((m) => {
      let bits = '';
      for (let i = 0; i < m.mask.length; i++) bits += m.mask[i] ? '1' : '0';
      return { id: m.id, bits };
    }),
  );
}

/** Click an export button and return the downloaded file (a string, or a Buffer when encoding is null). */
async function download(page, format, encoding = 'utf8') {
  const [file] = await Promise.all([page.waitForEvent('download', { timeout: 30000 }), page.click(`[data-testid=export-${format}]`)]);
  const path = await file.path();
  const failure = await file.failure();
  if (failure) throw new Error(`the ${format} download failed: ${failure}`);
  const bytes = readFileSync(path);
  return encoding ? bytes.toString(encoding) : bytes;
}
