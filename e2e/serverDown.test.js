/**
 * The server goes away for a minute while an annotator works: the Django process is killed
 * outright, the annotator keeps drawing and going on with the images the server leased to
 * them ahead, and once the server is started again (same port, same database) every
 * annotation arrives exactly as drawn: the same strokes, the same mask pixel for pixel.
 */

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  apiGet, compareMasks, decodeMaskPng, drawStroke, fetchBytes, launchBrowser, openPage, pageMask, signIn, startAnnotating,
  startServer, waitForImage, waitSaved,
} from './harness.js';

const DOWN_MS = 60000;

describe('a server down for a minute', { timeout: 300000 }, () => {
  let server;
  let browser;
  let page;
  let leased; // the images the server leased to the annotator before it went down, in order
  let downAt;
  const drawn = []; // {imageId, strokes, label, status, mask}

  const annotation = () =>
    page.evaluate(() => {
      const s = window.__eyetagger.store.state.annotation;
      return { imageId: s.draft.imageId, strokes: JSON.parse(JSON.stringify(s.strokes)), label: s.draft.label, status: s.draft.status };
    });

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
    page = await openPage(browser);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('starts online, and the service worker keeps the files of the images leased ahead', async () => {
    await signIn(page, server.url);
    await startAnnotating(page);
    await page.waitForFunction(() => navigator.serviceWorker && navigator.serviceWorker.controller, null, { timeout: 30000 });
    await page.reload(); // now the page's requests, and so the prefetched files, go through the service worker
    await waitForImage(page);
    leased = await page.evaluate(() => window.__eyetagger.store.state.navigation.ahead.map((i) => i.id));
    assert.ok(leased.length >= 5, `leased ${leased.length} images`);
    await page.waitForFunction(
      async (n) => (await (await caches.open('eyetagger-images')).keys()).length >= n,
      leased.length,
      { timeout: 30000, polling: 250 },
    );
  });

  it('submits one image while the server is up', async () => {
    await drawStroke(page, [[60, 60], [140, 100], [220, 90]]);
    await page.keyboard.press('1');
    drawn.push({ ...(await annotation()), status: 'submitted', mask: await pageMask(page) });
    await page.keyboard.press('e');
    await waitForImage(page, drawn[0].imageId);
    await waitSaved(page);
  });

  it('keeps annotating the images leased ahead while the server process is killed', async () => {
    await server.kill();
    downAt = Date.now();
    await assert.rejects(fetch(`${server.url}/api/health/`), 'the server is really gone');
    for (let k = 0; k < 3; k++) {
      await drawStroke(page, [[70 + 25 * k, 60], [150, 130 + 15 * k], [240, 100]]);
      await page.click('[data-testid=tool-eraser]');
      await drawStroke(page, [[140, 50], [150, 200]]);
      await page.click('[data-testid=tool-brush]');
      await page.keyboard.press(k % 2 ? '1' : '2');
      const current = await annotation();
      drawn.push({ ...current, status: 'submitted', mask: await pageMask(page) });
      await page.keyboard.press('e');
      await waitForImage(page, current.imageId);
    }
    // And a fourth one left as a draft, half done (no answer yet).
    await drawStroke(page, [[90, 90], [200, 160]]);
    drawn.push({ ...(await annotation()), mask: await pageMask(page) });
    const ids = drawn.map((d) => d.imageId);
    assert.equal(new Set(ids).size, 5);
    assert.deepEqual(ids, leased.slice(0, 5), 'went on with the images leased ahead, in their order');
    await page.waitForFunction(() => window.__eyetagger.store.state.sync.waiting === 4, null, { timeout: 10000 });
    assert.match(await page.textContent('.save-state'), /Offline — 4 images not sent yet/);
    // Keep the server down for the whole minute, drawing on as the annotator would.
    await page.waitForTimeout(Math.max(0, DOWN_MS - (Date.now() - downAt)));
    assert.equal(await page.evaluate(() => window.__eyetagger.store.state.sync.status), 'offline');
  });

  it('sends every annotation exactly as drawn once the server is back on the same port and database', async () => {
    await server.restart();
    assert.ok(Date.now() - downAt >= DOWN_MS);
    // The annotator carries on: this draft is sent at once, and everything else right after it.
    await drawStroke(page, [[60, 150], [120, 170]]);
    drawn[4] = { ...(await annotation()), mask: await pageMask(page) };
    await waitSaved(page, 40000);
    for (const d of drawn) {
      const { status, body } = await apiGet(page, `/api/images/${d.imageId}/annotation/`);
      assert.equal(status, 200);
      assert.equal(JSON.stringify(body.strokes), JSON.stringify(d.strokes), `image ${d.imageId}: the strokes drawn`);
      assert.equal(body.label, d.label);
      assert.equal(body.status, d.status);
      const png = await fetchBytes(page, `/api/annotations/${body.id}/mask.png`);
      assert.equal(png.status, 200);
      const stored = decodeMaskPng(png.body);
      assert.equal(compareMasks(stored.bits, d.mask.bits).differing, 0, `image ${d.imageId}: the mask shown`);
    }
    const progress = (await apiGet(page, `/api/datasets/${await page.evaluate(() => window.__eyetagger.store.state.navigation.datasetId)}/progress/`)).body;
    assert.equal(progress.annotators[0].done, 4);
  });
});
