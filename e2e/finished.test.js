/**
 * One definition of finished: an annotator who submitted eleven images and skipped one has
 * finished the dataset, and the datasets page says so as the Done page does (a full bar, no
 * Continue). A researcher's landing page shows each dataset's own progress, not an annotator's.
 */

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ACCOUNTS, apiClient, finishDataset, launchBrowser, openPage, signIn, startServer } from './harness.js';

describe('a finished dataset', { timeout: 180000 }, () => {
  let server;
  let browser;
  let page;
  let progress;

  before(async () => {
    server = await startServer();
    progress = await finishDataset(await apiClient(server.url, 'annotator', ACCOUNTS.annotator));
    browser = await launchBrowser();
    page = await openPage(browser);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('is finished on the datasets page: a full bar and no Continue', async () => {
    assert.deepEqual([progress.done, progress.skipped, progress.finished], [11, 1, true]);
    await signIn(page, server.url);
    assert.equal(await page.locator('[data-testid=finished-1]').count(), 1);
    assert.match(await page.textContent('[data-testid=progress-1]'), /11\s*\/ 12 done · 1 skipped/);
    const width = await page.$eval('.dataset-card .progress__bar', (bar) => bar.style.width);
    assert.equal(width, '100%');
    assert.equal((await page.textContent('[data-testid=start-1]')).trim(), 'Review my images');
  });

  it('is finished on the Done page in the same words', async () => {
    await page.goto(`${server.url}/datasets/1/done`);
    await page.waitForSelector('[data-testid=done-summary]');
    assert.equal((await page.textContent('h1')).trim(), 'All done — thank you!');
    assert.match(await page.textContent('[data-testid=done-summary]'), /You have finished Demo irises: 11 submitted, 1 skipped, of 12\./);
  });

  it('shows a researcher the dataset’s own progress, not an annotator’s', async () => {
    const researcher = await openPage(browser);
    await signIn(researcher, server.url, 'researcher');
    const head = await researcher.textContent('.page__head');
    assert.doesNotMatch(head, /Pick up where you left off/);
    await researcher.waitForSelector('[data-testid=progress-1]');
    assert.match(await researcher.textContent('[data-testid=progress-1]'), /11\s*\/ 12 images complete · 11 of 12 annotations · 1 annotator/);
    await researcher.close();
  });
});
