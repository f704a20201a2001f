/**
 * The Annotate page on a tablet: at 1024 px wide the mask opacity slider keeps its label and the
 * image id stays in the top bar, nothing cut off; on a touch screen (a coarse pointer) every
 * button, tool, answer and slider is at least 44 px each way (WCAG 2.5.5's target size).
 */

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, launchBrowser, signIn, startAnnotating, startServer } from './harness.js';

const ARTIFACTS = join(ROOT, 'artifacts');

/** Return the controls of the page smaller than 44 px either way, as "what: w x h". */
function smallTargets(page) {
  return page.$$eval('button, a.btn, [role=radio], input[type=range], .tool', (els) =>
    els
      .filter((el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden')
      .map((el) => ({ el, box: el.getBoundingClientRect() }))
      .filter(({ box }) => box.width < 44 || box.height < 44)
      .map(({ el, box }) => `${el.getAttribute('aria-label') || el.dataset.testid || el.textContent.trim().slice(0, 20)}: ${Math.round(box.width)} x ${Math.round(box.height)}`),
  );
}

/** Return the top bar's parts that are hidden or cut off at the bar's edges. */
function cutOff(page) {
  return page.evaluate(() => {
    const bar = document.querySelector('.workbar').getBoundingClientRect();
    const parts = {
      'image id': '[data-testid=short-id]',
      'opacity label': '.opacity span',
      'opacity slider': '.opacity input',
      position: '[data-testid=position]',
      progress: '[data-testid=progress]',
      'zoom in': '[aria-label="Zoom in"]',
      shortcuts: '[data-testid=help]',
    };
    const out = [];
    for (const [name, selector] of Object.entries(parts)) {
      const el = document.querySelector(selector);
      const box = el && el.getBoundingClientRect();
      let clipped = false;
      for (let p = el && el.parentElement; p && p !== document.body; p = p.parentElement) {
        const c = p.getBoundingClientRect();
        if (getComputedStyle(p).overflow !== 'visible' && (box.left < c.left - 0.5 || box.right > c.right + 0.5)) clipped = true;
      }
      if (!box || box.width === 0 || box.left < bar.left || box.right > bar.right + 0.5 || clipped) out.push(name);
    }
    return out;
  });
}

describe('the Annotate page on a tablet', { timeout: 180000 }, () => {
  let server;
  let browser;

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('keeps the opacity label and the image id at 1024 px wide', async () => {
    const context = await browser.newContext({ viewport: { width: 1024, height: 768 } });
    const page = await context.newPage();
    await signIn(page, server.url);
    await startAnnotating(page);
    assert.deepEqual(await cutOff(page), []);
    assert.equal((await page.textContent('.opacity span')).trim(), 'Mask');
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'annotate-1024x768-mouse.png') });
    await context.close();
  });

  it('gives every control a 44 px target on a touch screen', async () => {
    const context = await browser.newContext({ viewport: { width: 1024, height: 768 }, hasTouch: true, isMobile: true, deviceScaleFactor: 2 });
    const page = await context.newPage();
    await signIn(page, server.url);
    assert.equal(await page.evaluate(() => matchMedia('(pointer: coarse)').matches), true, 'the context emulates a touch screen');
    assert.deepEqual(await smallTargets(page), [], 'on the datasets page');
    await startAnnotating(page);
    assert.deepEqual(await smallTargets(page), [], 'on the Annotate page');
    assert.deepEqual(await cutOff(page), []);
    await page.screenshot({ path: join(ARTIFACTS, 'annotate-1024x768-touch.png') });
    await context.close();
  });
});
