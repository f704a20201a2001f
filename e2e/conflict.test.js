/**
 * Two tabs change the same annotation: the second save is not silently lost or overwritten;
 * the annotator sees both versions as pictures and chooses which to keep, or keeps both. The
 * tab whose version was replaced is told at once (it never goes on saying "Saved").
 */

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT, apiGet, axeViolations, drawStroke, launchBrowser, signIn, startAnnotating, startServer, waitForImage, waitSaved } from './harness.js';

describe('a conflict between two tabs', { timeout: 240000 }, () => {
  let server;
  let browser;
  let tabA;
  let tabB;
  let imageId;

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
    const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    tabA = await context.newPage();
    tabB = await context.newPage();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('saves a stroke from the first tab', async () => {
    await signIn(tabA, server.url);
    await startAnnotating(tabA);
    imageId = await tabA.evaluate(() => window.__eyetagger.store.state.annotation.draft.imageId);
    await drawStroke(tabA, [[50, 50], [120, 80]]);
    await waitSaved(tabA);
  });

  it('saves a different stroke of the same image from the second tab', async () => {
    await tabB.goto(tabA.url());
    await waitForImage(tabB);
    await drawStroke(tabB, [[200, 200], [260, 150]]);
    await waitSaved(tabB);
    const { body } = await apiGet(tabB, `/api/images/${imageId}/annotation/`);
    assert.equal(body.strokes.length, 2);
  });

  it('shows the first tab a conflict as soon as the second saved, before it draws again', async () => {
    await tabA.bringToFront();
    await tabA.waitForSelector('[data-testid=conflict]', { timeout: 20000 });
    assert.match(await tabA.textContent('.save-state'), /Changed elsewhere/);
    const { body } = await apiGet(tabA, `/api/images/${imageId}/annotation/`);
    assert.equal(body.version, 2, 'the second tab’s save is still the stored one');
  });

  it('shows both versions as pictures of their masks', async () => {
    const areas = await tabA.$$eval('[data-testid=conflict-pictures] canvas', (canvases) => canvases.map((c) => Number(c.dataset.area)));
    const expected = await tabA.evaluate(() => window.__eyetagger.store.state.annotation.area);
    assert.equal(areas.length, 2);
    assert.equal(areas[0], expected, 'this tab’s picture is its mask');
    assert.ok(areas[1] > 0 && areas[1] !== areas[0], `the saved version’s picture is its own mask (${areas})`);
    assert.equal(await tabA.locator('[data-testid=keep-both]').count(), 1);
    assert.deepEqual(await axeViolations(tabA), []);
    mkdirSync(join(ROOT, 'artifacts'), { recursive: true });
    await tabA.screenshot({ path: join(ROOT, 'artifacts', 'conflict-dialog.png') });
  });

  it('keeps the first tab’s version when the annotator chooses it', async () => {
    const mine = await tabA.evaluate(() => JSON.parse(JSON.stringify(window.__eyetagger.store.state.annotation.strokes)));
    await tabA.click('[data-testid=keep-mine]');
    await waitSaved(tabA);
    const { body } = await apiGet(tabA, `/api/images/${imageId}/annotation/`);
    assert.equal(body.version, 3);
    assert.deepEqual(body.strokes, mine);
  });

  it('tells the other tab at once that its version was replaced, instead of saying Saved', async () => {
    await tabB.bringToFront();
    await tabB.waitForSelector('[data-testid=conflict]', { timeout: 20000 });
    assert.match(await tabB.textContent('.save-state'), /Changed elsewhere/);
  });

  it('keeps both versions in the other tab: its strokes, then the stored ones', async () => {
    const mine = await tabB.evaluate(() => JSON.parse(JSON.stringify(window.__eyetagger.store.state.annotation.strokes)));
    const stored = (await apiGet(tabB, `/api/images/${imageId}/annotation/`)).body;
    await tabB.click('[data-testid=keep-both]');
    await waitSaved(tabB);
    const { body } = await apiGet(tabB, `/api/images/${imageId}/annotation/`);
    assert.equal(body.version, 4);
    assert.deepEqual(body.strokes, [...mine, ...stored.strokes]);
    const shown = await tabB.evaluate(() => JSON.parse(JSON.stringify(window.__eyetagger.store.state.annotation.strokes)));
    assert.deepEqual(shown, body.strokes);
  });

  it('takes the stored version in the first tab when the annotator chooses that', async () => {
    await tabA.bringToFront();
    await tabA.waitForSelector('[data-testid=conflict]', { timeout: 20000 });
    await tabA.click('[data-testid=use-theirs]');
    await waitSaved(tabA);
    const stored = await apiGet(tabA, `/api/images/${imageId}/annotation/`);
    const shown = await tabA.evaluate(() => JSON.parse(JSON.stringify(window.__eyetagger.store.state.annotation.strokes)));
    assert.equal(stored.body.version, 4);
    assert.deepEqual(shown, stored.body.strokes);
  });

  it('shows another device the conflict when the server refuses its save', async () => {
    // Another browser profile hears nothing from these tabs: the server's 409 tells it.
    const other = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    const device = await other.newPage();
    await signIn(device, server.url);
    await device.goto(tabA.url());
    await waitForImage(device);
    await tabB.bringToFront();
    await drawStroke(tabB, [[30, 200], [70, 230]]);
    await waitSaved(tabB);
    await device.bringToFront();
    await drawStroke(device, [[10, 10], [30, 30]]);
    await device.waitForSelector('[data-testid=conflict]', { timeout: 20000 });
    assert.match(await device.textContent('.save-state'), /Changed elsewhere/);
    const { body } = await apiGet(device, `/api/images/${imageId}/annotation/`);
    assert.equal(body.version, 5, 'the other tab’s save is still the stored one');
    await other.close();
  });
});
