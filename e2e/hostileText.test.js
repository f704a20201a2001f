/**
 * Free text with HTML or script is stored and shown as text, never run: in Debian's Chromium
 * against the real server, an annotator types it into the justification box and submits; the
 * server must hold it exactly as typed; a researcher opens the Review page's image view, where
 * annotators' texts are shown, and must see it literally, with no element made of it, no
 * script run (`window.__xss` stays undefined) and no dialog opened.
 */

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  apiGet, drawStroke, launchBrowser, signIn, startAnnotating, startServer, waitForImage, waitSaved,
} from './harness.js';

// Each would run script if it became markup anywhere: as element content, in an attribute, in a textarea.
const HOSTILE = [
  '<img src=x onerror="window.__xss=1">',
  '<script>window.__xss=1</script>',
  '"><svg onload="window.__xss=1;alert(1)">',
  '</textarea><iframe srcdoc="<script>parent.__xss=1</script>"></iframe>',
  "javascript:alert(1) {{ constructor.constructor('window.__xss=1')() }}",
].join(' ');

/** Fail on any dialog (alert, confirm, prompt) the page opens, and on any script error. */
function watch(page, seen) {
  page.on('dialog', async (dialog) => {
    seen.push(`dialog: ${dialog.type()} ${dialog.message()}`);
    await dialog.dismiss();
  });
  page.on('pageerror', (error) => seen.push(`page error: ${error.message}`));
}

describe('free text with HTML or script', { timeout: 240000 }, () => {
  let server;
  let browser;
  let imageId;
  const seen = [];

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('is typed by an annotator into the text box, submitted, and stored exactly as typed', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    const page = await context.newPage();
    watch(page, seen);
    await signIn(page, server.url, 'annotator');
    await startAnnotating(page);
    imageId = await page.evaluate(() => window.__eyetagger.store.state.annotation.draft.imageId);
    await drawStroke(page, [[60, 60], [120, 90], [200, 120]]);
    await page.keyboard.press('1');
    await page.click('[data-testid=text]');
    await page.keyboard.type(HOSTILE); // key by key, as a person types it
    assert.equal(await page.inputValue('[data-testid=text]'), HOSTILE);
    await page.keyboard.press('Escape');
    await waitSaved(page);
    await page.keyboard.press('e');
    await waitForImage(page, imageId);
    await waitSaved(page);
    const { status, body } = await apiGet(page, `/api/images/${imageId}/annotation/`);
    assert.equal(status, 200);
    assert.equal(body.text, HOSTILE);
    assert.equal(body.status, 'submitted');
    assert.equal(await page.evaluate(() => window.__xss), undefined);
    await context.close();
  });

  it('is shown literally on the Review page’s image view, and nothing of it runs', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    const page = await context.newPage();
    watch(page, seen);
    await signIn(page, server.url, 'researcher');
    await page.goto(`${server.url}/datasets/1/review/images/${imageId}`);
    const text = page.locator('[data-testid=answer-text]');
    await text.first().waitFor({ timeout: 30000 });
    assert.equal(await text.count(), 1);
    assert.equal(await text.textContent(), HOSTILE);
    assert.equal(await text.locator('*').count(), 0, 'no element was made of the text');
    assert.equal(await page.locator('img[src="x"], iframe, svg[onload], script:not([src])').count(), 0);
    await page.waitForTimeout(500); // an onerror or onload would have fired by now
    assert.equal(await page.evaluate(() => window.__xss), undefined);
    assert.deepEqual(seen, []);
    await context.close();
  });
});
