/**
 * Incremental saves end to end: each save sends only what changed (PATCH), an undo sends a
 * count, and the server holds exactly the strokes drawn, with the page's mask pixel for pixel,
 * across a reload too.
 */

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { strokeInk } from '../src/document.js';
import { LIMITS } from '../src/limits.js';
import { apiGet, drawStroke, launchBrowser, openPage, pageMask, serverMask, signIn, startAnnotating, startServer, waitForImage, waitSaved } from './harness.js';

describe('incremental saves', { timeout: 240000 }, () => {
  let server;
  let browser;
  let page;
  let imageId;
  const saves = []; // {method, body}

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
    page = await openPage(browser);
    page.on('request', (request) => {
      if (/\/api\/images\/\d+\/annotation\/$/.test(request.url()) && ['PUT', 'PATCH'].includes(request.method())) {
        saves.push({ method: request.method(), body: JSON.parse(request.postData()) });
      }
    });
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  async function pageState() {
    return page.evaluate(() => JSON.parse(JSON.stringify(window.__eyetagger.store.state.annotation.strokes)));
  }

  async function assertStoredAsDrawn() {
    await waitSaved(page);
    const { body } = await apiGet(page, `/api/images/${imageId}/annotation/`);
    assert.deepEqual(body.strokes, await pageState());
    const shown = await pageMask(page);
    const stored = await serverMask(server, imageId);
    assert.equal(stored.stored_bits, shown.bits);
    assert.equal(stored.bits, shown.bits);
    assert.equal(stored.stored_area, shown.area);
  }

  it('sends each stroke alone, after the first save', async () => {
    await signIn(page, server.url);
    await startAnnotating(page);
    imageId = await page.evaluate(() => window.__eyetagger.store.state.annotation.draft.imageId);
    for (let k = 0; k < 3; k++) {
      await drawStroke(page, [[60 + 30 * k, 60], [120, 90 + 20 * k], [200 - 10 * k, 120]]);
      await waitSaved(page);
    }
    assert.deepEqual(saves.map((s) => s.method), ['PATCH', 'PATCH', 'PATCH']);
    assert.deepEqual(saves.map((s) => [s.body.version, s.body.remove, s.body.append.length]), [[0, 0, 1], [1, 0, 1], [2, 0, 1]]);
    await assertStoredAsDrawn();
  });

  it('sends an undo as a count of strokes removed, and an eraser stroke as one stroke', async () => {
    await page.keyboard.press('Control+z');
    await waitSaved(page);
    assert.deepEqual([saves.at(-1).body.remove, saves.at(-1).body.append.length], [1, 0]);
    await page.click('[data-testid=tool-eraser]');
    await drawStroke(page, [[100, 40], [110, 200]]);
    await page.keyboard.press('b');
    await assertStoredAsDrawn();
    assert.equal(saves.at(-1).method, 'PATCH');
  });

  it('goes on with changes after a reload (the draft comes from the server again)', async () => {
    await page.reload();
    await waitForImage(page);
    const before = saves.length;
    await drawStroke(page, [[30, 200], [90, 210]]);
    await waitSaved(page);
    assert.deepEqual(saves.slice(before).map((s) => [s.method, s.body.append && s.body.append.length]), [['PATCH', 1]]);
    await assertStoredAsDrawn();
  });

  it('saves strokes holding more ink than one save may paint in parts, which a reload reads back', async () => {
    const height = await page.evaluate(() => window.__eyetagger.store.state.annotation.draft.image.height);
    // Five strokes of ~150,000 units of ink each (a brush up and down the whole image), added at once: one change.
    const points = Math.ceil(150000 / height) + 1;
    const big = (x) => ({ tool: 'brush', width: 4, points: Array.from({ length: points }, (_, k) => [x + (k % 3), k % 2 ? height + 2 : -2, k, 0.5]) });
    const strokes = [20, 40, 60, 80, 100].map(big);
    const before = saves.length;
    await page.evaluate(async (added) => {
      for (const stroke of added) await window.__eyetagger.store.dispatch('annotation/addStroke', { stroke });
    }, strokes);
    await assertStoredAsDrawn();
    const sent = saves.slice(before);
    assert.deepEqual(sent.map((s) => [s.method, s.body.append.length]), [['PATCH', 2], ['PATCH', 2], ['PATCH', 1]]);
    for (const save of sent) assert.ok(save.body.append.reduce((ink, s) => ink + strokeInk(s, height), 0) <= LIMITS.maxInk);
    assert.equal(new Set(sent.map((s) => s.body.op)).size, 3);
    await page.reload();
    await waitForImage(page);
    const held = await pageState();
    assert.deepEqual(held.slice(-5), strokes);
    await assertStoredAsDrawn();
  });
});
