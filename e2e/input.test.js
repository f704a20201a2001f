/**
 * Pen, touch and palms in a real Chromium (events sent through the DevTools protocol, as the
 * hardware would): a pen draws and its pressure is recorded, one finger draws, two fingers pan
 * and zoom without drawing, and a palm resting after the pen never draws.
 */

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { launchBrowser, signIn, startAnnotating, startServer } from './harness.js';

describe('pen, touch and palm input', { timeout: 180000 }, () => {
  let server;
  let browser;
  let page;
  let cdp;
  let box;

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
    const context = await browser.newContext({ viewport: { width: 1280, height: 720 }, hasTouch: true });
    page = await context.newPage();
    cdp = await context.newCDPSession(page);
    await signIn(page, server.url);
    await startAnnotating(page);
    box = await page.locator('[data-testid=stage]').boundingBox();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  const strokeCount = () => page.evaluate(() => window.__eyetagger.store.state.annotation.strokes.length);
  const frame = () => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));

  async function pen(points, force) {
    const send = (type, [x, y], buttons) =>
      cdp.send('Input.dispatchMouseEvent', { type, x: box.x + x, y: box.y + y, button: 'left', buttons, pointerType: 'pen', force, clickCount: 1 });
    await send('mousePressed', points[0], 1);
    for (const p of points.slice(1)) await send('mouseMoved', p, 1);
    await send('mouseReleased', points[points.length - 1], 0);
    await frame();
  }

  async function touch(type, fingers) {
    await cdp.send('Input.dispatchTouchEvent', {
      type,
      touchPoints: fingers.map(([x, y], id) => ({ x: box.x + x, y: box.y + y, id, radiusX: 4, radiusY: 4, force: 0.5 })),
    });
  }

  it('draws with a pen and records its pressure', async () => {
    await pen([[300, 200], [340, 230], [380, 260]], 0.8);
    assert.equal(await strokeCount(), 1);
    const points = await page.evaluate(() => window.__eyetagger.store.state.annotation.strokes[0].points);
    assert.ok(points.every(([, , , p]) => Math.abs(p - 0.8) < 0.01), `pressures ${points.map((p) => p[3])}`);
  });

  it('ignores a palm touching down right after the pen', async () => {
    await touch('touchStart', [[500, 400]]);
    await touch('touchMove', [[540, 420]]);
    await touch('touchEnd', []);
    await frame();
    assert.equal(await strokeCount(), 1);
  });

  it('draws with one finger', async () => {
    await page.waitForTimeout(1100); // the pen is put down: fingers may draw again
    await touch('touchStart', [[200, 300]]);
    await touch('touchMove', [[240, 320]]);
    await touch('touchMove', [[280, 330]]);
    await touch('touchEnd', []);
    await frame();
    assert.equal(await strokeCount(), 2);
  });

  it('pans and zooms with two fingers without drawing', async () => {
    const before = await page.evaluate(() => window.__eyetagger.canvas.view());
    await touch('touchStart', [[300, 300]]);
    await touch('touchStart', [[300, 300], [400, 300]]);
    await touch('touchMove', [[280, 300], [440, 300]]);
    await touch('touchMove', [[260, 310], [480, 310]]);
    await touch('touchEnd', []);
    await frame();
    const after = await page.evaluate(() => window.__eyetagger.canvas.view());
    assert.equal(await strokeCount(), 2);
    assert.ok(after.zoom > before.zoom * 1.5, `zoom ${before.zoom} -> ${after.zoom}`);
  });
});
