/**
 * A dataset with choices but no question (allowed, e.g. "real, fake" with the question left
 * blank): the answer buttons are shown under a heading of their own, a required answer can be
 * given with the mouse, and the server stores it.
 */

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ROOT, apiGet, drawStroke, launchBrowser, openPage, signIn, startAnnotating, startServer, waitForImage, waitSaved,
} from './harness.js';

const ARTIFACTS = join(ROOT, 'artifacts');

describe('choices without a question', { timeout: 180000 }, () => {
  let server;
  let browser;
  let page;

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    server = await startServer();
    await server.python('from backend.api.models import Dataset\nDataset.objects.update(question="")');
    browser = await launchBrowser();
    page = await openPage(browser);
    await signIn(page, server.url);
    await startAnnotating(page);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('shows the choice buttons under a heading of their own, marked required', async () => {
    assert.equal(await page.evaluate(() => window.__eyetagger.store.getters['annotation/dataset'].question), '');
    assert.ok(await page.isVisible('[data-testid=choice-real]'));
    assert.ok(await page.isVisible('[data-testid=choice-fake]'));
    assert.equal((await page.textContent('[data-testid=question]')).trim(), 'Your answer*');
    assert.equal(await page.getAttribute('[role=radiogroup]', 'aria-labelledby'), 'question-title');
  });

  it('takes a required answer with the mouse and submits it', async () => {
    const imageId = await page.evaluate(() => window.__eyetagger.store.state.annotation.draft.imageId);
    await drawStroke(page, [[60, 60], [140, 100]]);
    await page.click('[data-testid=next]');
    assert.match(await page.textContent('[data-testid=notice]'), /To go on, choose an answer\./);
    await page.click('[data-testid=choice-real]');
    assert.equal(await page.getAttribute('[data-testid=choice-real]', 'aria-checked'), 'true');
    await page.mouse.move(700, 330);
    await page.screenshot({ path: join(ARTIFACTS, 'choices-without-question.png') });
    await page.click('[data-testid=next]');
    await waitForImage(page, imageId);
    await waitSaved(page);
    const { body } = await apiGet(page, `/api/images/${imageId}/annotation/`);
    assert.equal(body.label, 'real');
    assert.equal(body.status, 'submitted');
  });
});
