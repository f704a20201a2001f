/**
 * Two tabs change the same annotation: the second save is not silently lost or overwritten;
 * the annotator sees the conflict and chooses which version to keep.
 */

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { apiGet, drawStroke, launchBrowser, signIn, startAnnotating, startServer, waitForImage, waitSaved } from './harness.js';

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

  it('shows the first tab a conflict instead of overwriting', async () => {
    await tabA.bringToFront();
    await drawStroke(tabA, [[60, 180], [90, 220]]);
    await tabA.waitForSelector('[data-testid=conflict]', { timeout: 20000 });
    assert.match(await tabA.textContent('.save-state'), /Changed elsewhere/);
    const { body } = await apiGet(tabA, `/api/images/${imageId}/annotation/`);
    assert.equal(body.version, 2, 'the second tab’s save is still the stored one');
  });

  it('keeps the first tab’s version when the annotator chooses it', async () => {
    const mine = await tabA.evaluate(() => JSON.parse(JSON.stringify(window.__eyetagger.store.state.annotation.strokes)));
    await tabA.click('[data-testid=keep-mine]');
    await waitSaved(tabA);
    const { body } = await apiGet(tabA, `/api/images/${imageId}/annotation/`);
    assert.equal(body.version, 3);
    assert.deepEqual(body.strokes, mine);
  });

  it('takes the stored version in the other tab when the annotator chooses that', async () => {
    await tabB.bringToFront();
    await drawStroke(tabB, [[10, 10], [30, 30]]);
    await tabB.waitForSelector('[data-testid=conflict]', { timeout: 20000 });
    await tabB.click('[data-testid=use-theirs]');
    await waitSaved(tabB);
    const stored = await apiGet(tabB, `/api/images/${imageId}/annotation/`);
    const shown = await tabB.evaluate(() => JSON.parse(JSON.stringify(window.__eyetagger.store.state.annotation.strokes)));
    assert.equal(stored.body.version, 3);
    assert.deepEqual(shown, stored.body.strokes);
  });
});
