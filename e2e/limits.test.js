/**
 * The server's limits (docs/strokes.md, "Limits") in the app, in Debian's Chromium against the real server:
 * a document near the 5,000-stroke or the 250,000-point limit says so; at the limit a new stroke
 * is refused (or cut where the points run out) with a message saying what to do, and every save
 * still succeeds. Slow drawing drops the samples that add nothing, and the canvas still shows
 * exactly the mask the server stores.
 */

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ACCOUNTS, ROOT, apiClient, drawStroke, launchBrowser, openPage, pageMask, serverMask, signIn, startAnnotating, startServer,
  waitForImage, waitSaved,
} from './harness.js';

const ARTIFACTS = join(ROOT, 'artifacts');

describe('the server’s limits in the app', { timeout: 300000 }, () => {
  let server;
  let browser;
  let page;
  let datasetId;
  let images; // [nearly 5,000 strokes, nearly 250,000 points, empty]

  const state = () =>
    page.evaluate(() => {
      const s = window.__eyetagger.store;
      return { size: s.getters['annotation/size'], limit: s.getters['annotation/limit'], sync: { ...s.state.sync } };
    });

  const frame = () => page.evaluate(() => new Promise((r) => setTimeout(() => requestAnimationFrame(r), 200)));

  async function storedSize(imageId) {
    const { body } = await page.evaluate(async (id) => {
      const response = await fetch(`/api/images/${id}/annotation/`, { headers: { Accept: 'application/json' }, cache: 'no-store' });
      return { body: await response.json() };
    }, imageId);
    return { strokes: body.strokes.length, points: body.strokes.reduce((n, s) => n + s.points.length, 0) };
  }

  async function openImage(imageId) {
    const previous = await page.evaluate(() => window.__eyetagger.store.state.annotation.draft.imageId);
    await page.goto(`${server.url}/datasets/${datasetId}/images/${imageId}`);
    await waitForImage(page, previous);
  }

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    server = await startServer();
    // Seed as the annotator: the queue leases the images, then their drafts sit just under the limits.
    const api = await apiClient(server.url, 'annotator', ACCOUNTS.annotator);
    datasetId = (await api.get('/api/datasets/')).results[0].id;
    const next = await api.get(`/api/datasets/${datasetId}/next/?ahead=2`);
    images = [next.image.id, next.ahead[0].id, next.ahead[1].id];
    const dot = (k) => ({ tool: 'brush', width: 2, points: [[10 + (k % 100) * 3, 10 + Math.floor(k / 100) * 4, k, 0.5]] });
    const draft = (strokes) => ({ strokes, label: null, text: '', status: 'draft', version: 0 });
    await api.put(`/api/images/${images[0]}/annotation/`, draft(Array.from({ length: 4999 }, (_, k) => dot(k))));
    const line = (n, row) => ({ tool: 'brush', width: 1, points: Array.from({ length: n }, (_, k) => [5 + (k % 300), row, k, 0.5]) });
    const full = [...Array.from({ length: 12 }, (_, r) => line(20000, 10 + r * 2)), line(9990, 40)];
    // ~40,000 units of ink a line (two rows a segment): 500,000 in all, more than one save may paint, so
    // in two saves, the second the whole document (a PUT paints only the strokes it appends).
    await api.put(`/api/images/${images[1]}/annotation/`, draft(full.slice(0, 8)));
    await api.put(`/api/images/${images[1]}/annotation/`, { ...draft(full), version: 1 });

    browser = await launchBrowser();
    page = await openPage(browser);
    await signIn(page, server.url);
    await startAnnotating(page);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('says so when an image nears the 5,000-stroke limit', async () => {
    assert.equal(await page.evaluate(() => window.__eyetagger.store.state.annotation.draft.imageId), images[0]);
    const { size, limit } = await state();
    assert.deepEqual(size, { strokes: 4999, points: 4999 });
    assert.equal(limit.level, 'near');
    assert.equal(
      await page.textContent('[data-testid=limit]'),
      'This image holds 4,999 of the 5,000 strokes the server accepts: fill large areas with the lasso (L) rather than the brush.',
    );
    await page.mouse.move(700, 330);
    await page.screenshot({ path: join(ARTIFACTS, 'limits-near.png') });
  });

  it('takes the 5,000th stroke, then refuses the next with a message saying what to do', async () => {
    await drawStroke(page, [[150, 200], [200, 210]]);
    assert.equal((await state()).size.strokes, 5000);
    assert.match(await page.textContent('[data-testid=limit]'), /^This image has reached the 5,000-stroke limit, so new strokes are not drawn\. Undo/);
    const before = await pageMask(page);
    await drawStroke(page, [[60, 200], [120, 230]]);
    const after = await state();
    assert.equal(after.size.strokes, 5000);
    assert.equal((await pageMask(page)).bits, before.bits, 'the refused stroke painted nothing');
    assert.equal(await page.getAttribute('[data-testid=limit]', 'role'), 'alert');
    assert.match(await page.getAttribute('[data-testid=limit]', 'class'), /stage__limit--flash/);
    await page.mouse.move(700, 330);
    await page.screenshot({ path: join(ARTIFACTS, 'limits-strokes.png') });
    await page.setViewportSize({ width: 768, height: 1024 });
    await frame();
    await page.screenshot({ path: join(ARTIFACTS, 'limits-strokes-768x1024.png') });
    await page.setViewportSize({ width: 1280, height: 720 });
    await page.keyboard.press('f');
  });

  it('saves the full document: the server takes it, and its mask is the one shown', async () => {
    await waitSaved(page);
    const { size } = await state();
    assert.equal(size.strokes, 5000);
    assert.deepEqual(await storedSize(images[0]), size);
    assert.equal((await serverMask(server, images[0])).bits, (await pageMask(page)).bits);
  });

  it('frees room on undo', async () => {
    await page.keyboard.press('Control+z');
    const { size, limit } = await state();
    assert.equal(size.strokes, 4999);
    assert.equal(limit.level, 'near');
  });

  it('cuts a stroke where the 250,000 points run out, and says so', async () => {
    await openImage(images[1]);
    assert.deepEqual((await state()).size, { strokes: 13, points: 249990 });
    assert.match(await page.textContent('[data-testid=limit]'), /^This image holds 249,990 of the 250,000 points/);
    await drawStroke(page, [[40, 120], [120, 160], [200, 120], [280, 160]], { steps: 10 });
    const { size, limit } = await state();
    assert.deepEqual(size, { strokes: 14, points: 250000 });
    assert.match(limit.message, /^This image has reached the 250,000-point limit/);
    await page.mouse.move(700, 330);
    await page.screenshot({ path: join(ARTIFACTS, 'limits-points.png') });
    await waitSaved(page);
    assert.equal((await state()).sync.status, 'saved');
    assert.deepEqual(await storedSize(images[1]), { strokes: 14, points: 250000 });
    assert.equal((await serverMask(server, images[1])).bits, (await pageMask(page)).bits);
  });

  it('drops the samples of slow drawing that add nothing, and still shows the stored mask', async () => {
    await openImage(images[2]);
    const zoom = await page.evaluate(() => window.__eyetagger.canvas.view().zoom);
    // 10 image pixels in 300 mouse moves: a tenth of a screen pixel or less per move.
    await drawStroke(page, [[100, 100], [110, 100]], { steps: 300 });
    const points = await page.evaluate(() => window.__eyetagger.store.state.annotation.strokes[0].points);
    const spacing = 0.5 / Math.max(1, zoom);
    assert.ok(points.length <= Math.ceil(10 / spacing) + 2, `${points.length} points kept of 301 samples at zoom ${zoom}`);
    for (let k = 1; k < points.length; k++) {
      const [x0, y0] = points[k - 1];
      const [x1, y1] = points[k];
      assert.ok(Math.hypot(x1 - x0, y1 - y0) >= spacing, `points ${k - 1} and ${k} are ${Math.hypot(x1 - x0, y1 - y0)} apart`);
    }
    await waitSaved(page);
    assert.equal((await serverMask(server, images[2])).bits, (await pageMask(page)).bits);
  });
});
