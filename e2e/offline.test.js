/**
 * Never lose work: with the network gone, an annotator annotates three images, reloads the
 * page (the service worker serves the app, IndexedDB still holds the drafts), and when the
 * network comes back all three arrive on the server intact. The network goes before the second
 * and third images are ever shown: they display from what was fetched ahead. "Image k of n"
 * reads the same online, offline after a reload, and when an image is opened by its address.
 */

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT, apiGet, drawStroke, imageShown, launchBrowser, pageMask, serverMask, signIn, startAnnotating, startServer, waitForImage, waitSaved } from './harness.js';

describe('working offline', { timeout: 300000 }, () => {
  let server;
  let browser;
  let context;
  let page;
  const done = []; // {imageId, strokes, label, mask}

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    page = await context.newPage();
    page.on('pageerror', (error) => console.error('page error:', error.message));
    page.on('console', (message) => {
      if (message.type() === 'error' && !/Failed to load resource/.test(message.text())) console.error('console:', message.text());
    });
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  async function storedCount() {
    const out = await server.python('from backend.api.models import Annotation\nprint(Annotation.objects.count())');
    return Number(out.trim().split('\n').pop()); // the shell may print a line of its own first
  }

  it('loads the app online, with its service worker in control', async () => {
    await signIn(page, server.url);
    await startAnnotating(page);
    await page.waitForFunction(() => navigator.serviceWorker && navigator.serviceWorker.controller, null, { timeout: 30000 });
    // Reload once so the images ahead are fetched through the service worker and kept.
    await page.reload();
    await waitForImage(page);
    assert.ok(await imageShown(page));
    assert.match(await page.textContent('[data-testid=position]'), /^Image 1 of 12$/);
    // Every image leased ahead is in the service worker's cache before the network goes.
    await page.waitForFunction(
      async () => {
        const ahead = window.__eyetagger.store.state.navigation.ahead.map((i) => new URL(i.file_url, location.href).href);
        const cache = await caches.open('eyetagger-images');
        const kept = new Set((await cache.keys()).map((r) => r.url));
        return ahead.length >= 3 && ahead.every((url) => kept.has(url));
      },
      null,
      { timeout: 30000, polling: 250 },
    );
    // As a production stack answers (seen there: "Vary: Accept, Cookie"), while the prefetch asked
    // with Accept: */* and an <img> asks with the browser's image types: the service worker must
    // still find them. The browser's own HTTP cache, which could hide a miss, is emptied.
    await page.evaluate(async () => {
      const cache = await caches.open('eyetagger-images');
      for (const request of await cache.keys()) {
        const response = await cache.match(request);
        const headers = new Headers(response.headers);
        headers.set('Vary', 'Accept, Cookie');
        await cache.put(request, new Response(await response.blob(), { status: 200, headers }));
      }
    });
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.clearBrowserCache');
  });

  it('annotates three images with the network gone', async () => {
    await context.setOffline(true);
    for (let k = 0; k < 3; k++) {
      const imageId = await page.evaluate(() => window.__eyetagger.store.state.annotation.draft.imageId);
      // The second and third were never shown online: only the files fetched ahead can show them.
      assert.ok(await imageShown(page), `image ${k + 1} (${imageId}) is shown offline`);
      assert.equal(await page.textContent('[data-testid=position]'), `Image ${k + 1} of 12`);
      await drawStroke(page, [[80 + 20 * k, 70], [160, 120 + 10 * k], [220, 90]]);
      await page.keyboard.press(k % 2 ? '1' : '2');
      const state = await page.evaluate(() => {
        const s = window.__eyetagger.store.state.annotation;
        return { strokes: JSON.parse(JSON.stringify(s.strokes)), label: s.draft.label };
      });
      done.push({ imageId, ...state, mask: await pageMask(page) });
      await page.keyboard.press('e');
      await waitForImage(page, imageId);
    }
    assert.equal(new Set(done.map((d) => d.imageId)).size, 3);
    const sync = await page.evaluate(() => ({ ...window.__eyetagger.store.state.sync }));
    assert.equal(sync.status, 'offline');
    assert.equal(sync.waiting, 3);
    assert.match(await page.textContent('.save-state'), /Offline — 3 images not sent yet/);
    mkdirSync(join(ROOT, 'artifacts'), { recursive: true });
    await page.screenshot({ path: join(ROOT, 'artifacts', 'offline-save-state.png'), clip: { x: 0, y: 0, width: 1280, height: 120 } });
    assert.equal(await storedCount(), 0, 'nothing reached the server while offline');
  });

  it('reloads while offline and still has all three drafts', async () => {
    // Chromium's offline emulation now and then lets a save through while the page reloads
    // (stored, though the page saw it fail): the server goes too, as for an annotator whose
    // network is really gone, so only the app's own copies can bring the drafts back.
    await server.kill();
    await page.reload();
    await waitForImage(page);
    await page.waitForFunction(() => window.__eyetagger.store.state.sync.waiting === 3, null, { timeout: 20000 });
    assert.ok(await imageShown(page), 'the fourth image, never shown online, is shown offline after the reload');
    assert.equal(await page.textContent('[data-testid=position]'), 'Image 4 of 12');
    const current = await page.evaluate(() => window.__eyetagger.store.state.annotation.draft.imageId);
    await page.keyboard.press('q');
    const back = await waitForImage(page, current);
    assert.equal(back, done[2].imageId);
    assert.equal(await page.textContent('[data-testid=position]'), 'Image 3 of 12');
    assert.equal(await page.isEnabled('[data-testid=previous]'), true);
    assert.ok(await imageShown(page));
    assert.equal((await pageMask(page)).bits, done[2].mask.bits);
  });

  it('sends all three intact once the network is back', async () => {
    assert.equal(await storedCount(), 0, 'nothing reached the server while offline');
    await server.restart();
    await context.setOffline(false);
    await waitSaved(page, 60000);
    for (const d of done) {
      const { status, body } = await apiGet(page, `/api/images/${d.imageId}/annotation/`);
      assert.equal(status, 200);
      assert.deepEqual(body.strokes, d.strokes);
      assert.equal(body.label, d.label);
      assert.equal(body.status, 'submitted');
      assert.equal(body.mask_area, d.mask.area);
      assert.equal((await serverMask(server, d.imageId)).bits, d.mask.bits);
    }
  });

  it('counts the same when an image is opened by its address', async () => {
    const datasetId = await page.evaluate(() => window.__eyetagger.store.state.navigation.datasetId);
    for (const [k, d] of done.entries()) {
      await page.goto(`${server.url}/datasets/${datasetId}/images/${d.imageId}`);
      await waitForImage(page);
      assert.equal(await page.textContent('[data-testid=position]'), `Image ${k + 1} of 12`);
    }
  });

  it('forgets the images kept for offline use, and the datasets list, on signing out', async () => {
    const kept = () => page.evaluate(async () => ({
      images: (await caches.has('eyetagger-images')) ? (await (await caches.open('eyetagger-images')).keys()).length : 0,
      datasets: localStorage.getItem('eyetagger.datasets'),
    }));
    const before = await kept();
    assert.ok(before.images > 0, 'images were kept while signed in');
    assert.ok(before.datasets, 'the datasets list was kept while signed in');
    await page.click('button:has-text("Sign out")');
    await page.waitForURL(/\/signin/);
    assert.deepEqual(await kept(), { images: 0, datasets: null });
  });
});
