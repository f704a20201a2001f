/**
 * Every page and dialog passes axe-core with no serious or critical violation, and the Annotate
 * page works from the keyboard alone (drawing aside): Tab reaches every control, Space presses a
 * focused button, the arrow keys move between the answers, and the shortcuts and skip dialogs
 * take focus and keep Tab inside until they close.
 */

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ACCOUNTS, apiClient, apiGet, axeViolations, drawStroke, launchBrowser, openPage, signIn, startAnnotating, startServer, waitForImage } from './harness.js';

describe('accessibility', { timeout: 300000 }, () => {
  let server;
  let browser;
  let page;

  const focused = () =>
    page.evaluate(() => {
      const el = document.activeElement;
      return { tag: el.tagName, testid: el.dataset.testid || null, role: el.getAttribute('role'), text: el.textContent.trim().slice(0, 40), inDialog: el.closest('[role=dialog],[role=alertdialog]')?.dataset.testid || null };
    });
  const currentImage = () => page.evaluate(() => window.__eyetagger.store.state.annotation.draft.imageId);

  /** Press Tab until `matches(focused)` (at most `limit` times); return how many presses it took. */
  async function tabUntil(matches, limit = 60) {
    for (let n = 1; n <= limit; n++) {
      await page.keyboard.press('Tab');
      if (matches(await focused())) return n;
    }
    throw new Error(`Tab never reached the control; focus is on ${JSON.stringify(await focused())}`);
  }

  before(async () => {
    server = await startServer();
    // One annotation to review, whatever runs first.
    const client = await apiClient(server.url, 'annotator', ACCOUNTS.annotator);
    const { image } = await client.get('/api/datasets/1/next/?ahead=0');
    const stroke = { tool: 'brush', width: 30, points: [[60, 60, 0, 0.5], [160, 120, 40, 0.5]] };
    await client.put(`/api/images/${image.id}/annotation/`, { strokes: [stroke], label: 'real', text: 'seen', status: 'submitted', version: 0, active_ms: 2000 });
    browser = await launchBrowser();
    page = await openPage(browser);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('passes on the sign-in page', async () => {
    await page.goto(`${server.url}/signin`);
    await page.waitForSelector('input[name=username]');
    assert.deepEqual(await axeViolations(page), []);
  });

  it('passes on the datasets page', async () => {
    await signIn(page, server.url);
    assert.deepEqual(await axeViolations(page), []);
  });

  it('passes on the Annotate page, every button with a name', async () => {
    await startAnnotating(page);
    assert.deepEqual(await axeViolations(page), []);
    const unnamed = await page.$$eval('button', (buttons) => buttons.filter((b) => /^[?−+\s]*$/.test(b.getAttribute('aria-label') || b.textContent)).map((b) => b.outerHTML));
    assert.deepEqual(unnamed, []);
  });

  it('opens the shortcuts from the keyboard, with focus inside until it closes', async () => {
    await page.locator('body').focus();
    await page.keyboard.press('?');
    await page.waitForSelector('[data-testid=help-dialog]');
    assert.equal((await focused()).inDialog, 'help-dialog');
    for (let n = 0; n < 5; n++) {
      await page.keyboard.press(n % 2 ? 'Shift+Tab' : 'Tab');
      assert.equal((await focused()).inDialog, 'help-dialog', 'Tab stays in the dialog');
    }
    const before = await currentImage();
    await page.keyboard.press('e'); // a shortcut does nothing behind the dialog
    assert.equal(await currentImage(), before);
    assert.deepEqual(await axeViolations(page), []);
    await page.keyboard.press('Escape');
    assert.equal(await page.locator('[data-testid=help-dialog]').count(), 0);
  });

  it('keeps Tab inside the skip dialog, and Escape closes it', async () => {
    await page.locator('body').focus();
    await page.keyboard.press('s');
    await page.waitForSelector('[data-testid=skip-dialog]');
    assert.equal((await focused()).testid, 'skip-reason');
    for (let n = 0; n < 9; n++) {
      await page.keyboard.press(n % 3 === 2 ? 'Shift+Tab' : 'Tab');
      assert.equal((await focused()).inDialog, 'skip-dialog', 'Tab stays in the dialog');
    }
    assert.deepEqual(await axeViolations(page), []);
    await page.keyboard.press('Escape');
    assert.equal(await page.locator('[data-testid=skip-dialog]').count(), 0);
  });

  it('annotates from the keyboard: arrows choose the answer, Space presses Next', async () => {
    const first = await currentImage();
    await drawStroke(page, [[80, 80], [160, 120]]); // drawing itself is the one thing done with a pointer
    await page.locator('body').focus();
    await tabUntil((f) => f.role === 'radio');
    const image = await currentImage();
    await page.keyboard.press('ArrowRight');
    assert.equal(await page.getAttribute('[data-testid=choice-fake]', 'aria-checked'), 'true');
    assert.equal((await focused()).testid, 'choice-fake', 'focus moves with the choice');
    await page.keyboard.press('ArrowRight'); // wraps around
    assert.equal(await page.getAttribute('[data-testid=choice-real]', 'aria-checked'), 'true');
    await page.keyboard.press('ArrowLeft');
    assert.equal(await page.getAttribute('[data-testid=choice-fake]', 'aria-checked'), 'true');
    assert.equal(await currentImage(), image, 'the arrows on the answers do not change the image');
    // Space on a focused button presses it (it used to be swallowed as Space-to-pan).
    await tabUntil((f) => f.testid === 'reference');
    await page.keyboard.press('Space');
    assert.equal(await page.evaluate(() => window.__eyetagger.store.state.tools.reference), true);
    await page.keyboard.press('Space');
    await tabUntil((f) => f.testid === 'next');
    await page.keyboard.press('Space');
    await waitForImage(page, first);
    const { body } = await apiGet(page, `/api/images/${first}/annotation/`);
    assert.equal(body.status, 'submitted');
    assert.equal(body.label, 'fake');
  });

  it('passes on the Done page', async () => {
    await page.goto(`${server.url}/datasets/1/done`);
    await page.waitForSelector('.done__card h1');
    assert.deepEqual(await axeViolations(page), []);
  });

  it('passes on the Review page and an image’s review', async () => {
    const researcher = await openPage(browser);
    await signIn(researcher, server.url, 'researcher');
    assert.deepEqual(await axeViolations(researcher), []);
    await researcher.click('[data-testid=review-1]');
    await researcher.waitForSelector('[data-testid=grid] a.card', { timeout: 30000 });
    assert.deepEqual(await axeViolations(researcher), []);
    await researcher.click('[data-testid=grid] a.card');
    await researcher.waitForURL(/\/review\/images\/\d+/);
    await researcher.waitForSelector('[data-testid=image-summary]', { timeout: 30000 });
    assert.deepEqual(await axeViolations(researcher), []);
    await researcher.close();
  });
});
