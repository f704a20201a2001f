/**
 * Zooming and panning on the Annotate page, in Debian's Chromium with the real mouse and keys:
 * the wheel zooms about the pointer, + and - about the stage's centre, F, 0 and the Fit button
 * fit the image to the stage, Space+drag and middle-drag pan. Each moves the view exactly as
 * expected and none of them draws: the page and the server keep exactly the one stroke drawn
 * first. A stroke drawn after all this lands on the image points under the pointer.
 */

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT, apiGet, drawStroke, launchBrowser, openPage, pageMask, signIn, startAnnotating, startServer, waitSaved } from './harness.js';

const ARTIFACTS = join(ROOT, 'artifacts');
const close = (a, b, tolerance = 1e-6) => Math.abs(a - b) <= tolerance * Math.max(1, Math.abs(a), Math.abs(b));

describe('zooming and panning', { timeout: 180000 }, () => {
  let server;
  let browser;
  let page;
  let box; // the stage, in page pixels
  let imageId;
  let drawn; // {strokes, bits}: what the page held before navigating

  const view = () => page.evaluate(() => window.__eyetagger.canvas.view());
  const frame = () => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  const underStage = (v, sx, sy) => [(sx - v.tx) / v.zoom, (sy - v.ty) / v.zoom];
  const content = () =>
    page.evaluate(() => {
      const a = window.__eyetagger.store.state.annotation;
      return { strokes: JSON.parse(JSON.stringify(a.strokes)), undoCount: a.undoCount };
    });

  /** Assert the page still holds exactly what was drawn before navigating: strokes, undo steps, mask. */
  async function nothingDrawn() {
    const now = await content();
    assert.deepEqual(now.strokes, drawn.strokes);
    assert.equal(now.undoCount, 1);
    assert.equal((await pageMask(page)).bits, drawn.bits);
  }

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    server = await startServer();
    browser = await launchBrowser();
    page = await openPage(browser);
    await signIn(page, server.url);
    await startAnnotating(page);
    box = await page.locator('[data-testid=stage]').boundingBox();
    imageId = await page.evaluate(() => window.__eyetagger.store.state.annotation.draft.imageId);
    await drawStroke(page, [[40, 40], [120, 80]]);
    drawn = { ...(await content()), bits: (await pageMask(page)).bits };
    assert.equal(drawn.strokes.length, 1);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('zooms in and out with the wheel about the point under the pointer', async () => {
    const before = await view();
    const [sx, sy] = [300, 200]; // stage pixels, away from the centre
    const anchor = underStage(before, sx, sy);
    await page.mouse.move(box.x + sx, box.y + sy);
    await page.mouse.wheel(0, -200);
    await frame();
    const zoomedIn = await view();
    assert.ok(zoomedIn.zoom > before.zoom * 1.2, `wheel up zooms in: ${before.zoom} -> ${zoomedIn.zoom}`);
    const [ax, ay] = underStage(zoomedIn, sx, sy);
    assert.ok(close(ax, anchor[0]) && close(ay, anchor[1]), `the image point under the pointer stays: ${anchor} -> ${[ax, ay]}`);
    await page.mouse.wheel(0, 200);
    await frame();
    const back = await view();
    assert.ok(close(back.zoom, before.zoom), `wheel down by as much zooms back: ${before.zoom} -> ${back.zoom}`);
    assert.ok(close(back.tx, before.tx) && close(back.ty, before.ty));
    assert.equal(await page.textContent('.zoom__value'), `${Math.round(back.zoom * 100)}%`);
    await nothingDrawn();
  });

  it('zooms by 1.25 with + and by 0.8 with -, about the centre of the stage', async () => {
    const before = await view();
    const centre = underStage(before, box.width / 2, box.height / 2);
    await page.keyboard.press('+');
    const zoomedIn = await view();
    assert.ok(close(zoomedIn.zoom, before.zoom * 1.25), `${before.zoom} -> ${zoomedIn.zoom}`);
    const [cx, cy] = underStage(zoomedIn, box.width / 2, box.height / 2);
    assert.ok(close(cx, centre[0]) && close(cy, centre[1]), 'the image point at the centre stays');
    await page.keyboard.press('+');
    await page.keyboard.press('-');
    assert.ok(close((await view()).zoom, before.zoom * 1.25 * 1.25 * 0.8));
    await nothingDrawn();
  });

  it('fits the image to the stage with F, 0 and the Fit button', async () => {
    const { width, height } = await page.evaluate(() => window.__eyetagger.store.state.annotation.draft.image);
    const zoom = Math.min((box.width - 32) / width, (box.height - 32) / height); // a 16-pixel margin
    const fitted = { zoom, tx: (box.width - width * zoom) / 2, ty: (box.height - height * zoom) / 2 };
    const isFitted = (v) => close(v.zoom, fitted.zoom) && close(v.tx, fitted.tx) && close(v.ty, fitted.ty);
    for (const fit of [() => page.keyboard.press('f'), () => page.keyboard.press('0'), () => page.click('button:has-text("Fit")')]) {
      await page.keyboard.press('+');
      assert.ok(!isFitted(await view()));
      await fit();
      const v = await view();
      assert.ok(isFitted(v), `fitted view ${JSON.stringify(fitted)}, got ${JSON.stringify(v)}`);
    }
    await nothingDrawn();
  });

  it('pans with Space+drag by exactly the drag, without drawing (even right after clicking Fit)', async () => {
    // The Fit button still has the focus: Space must pan, not press the button again.
    const before = await view();
    await page.mouse.move(box.x + 400, box.y + 300);
    await page.keyboard.down('Space');
    assert.match(await page.getAttribute('[data-testid=stage]', 'class'), /stage--panning/);
    await page.mouse.down();
    await page.mouse.move(box.x + 450, box.y + 330, { steps: 5 });
    await page.mouse.move(box.x + 500, box.y + 350, { steps: 5 });
    await page.mouse.up();
    await page.keyboard.up('Space');
    await frame();
    const after = await view();
    assert.deepEqual(after, { zoom: before.zoom, tx: before.tx + 100, ty: before.ty + 50 });
    assert.doesNotMatch(await page.getAttribute('[data-testid=stage]', 'class'), /stage--panning/);
    await nothingDrawn();
  });

  it('pans with a middle-button drag, without drawing', async () => {
    await page.keyboard.press('+'); // pan a zoomed view too
    const before = await view();
    await page.mouse.move(box.x + 500, box.y + 350);
    await page.mouse.down({ button: 'middle' });
    await page.mouse.move(box.x + 420, box.y + 390, { steps: 8 });
    await page.mouse.up({ button: 'middle' });
    await frame();
    const after = await view();
    assert.deepEqual(after, { zoom: before.zoom, tx: before.tx - 80, ty: before.ty + 40 });
    await page.mouse.move(box.x + 640, box.y + 360);
    await page.screenshot({ path: join(ARTIFACTS, 'navigation-zoomed-panned.png') });
    await nothingDrawn();
  });

  it('stored only the stroke drawn before navigating', async () => {
    await waitSaved(page);
    const { status, body } = await apiGet(page, `/api/images/${imageId}/annotation/`);
    assert.equal(status, 200);
    assert.deepEqual(body.strokes, drawn.strokes);
    assert.equal(body.version, 1, 'navigating saved nothing new');
  });

  it('draws on the image points under the pointer in the zoomed, panned view', async () => {
    const v = await view();
    await drawStroke(page, [[150, 120], [190, 140]]);
    const { strokes } = await content();
    assert.equal(strokes.length, 2);
    const points = strokes[1].points;
    const tolerance = 1 / v.zoom; // the mouse moves by whole page pixels
    assert.ok(Math.abs(points[0][0] - 150) <= tolerance && Math.abs(points[0][1] - 120) <= tolerance, `first point ${points[0]}`);
    const last = points[points.length - 1];
    assert.ok(Math.abs(last[0] - 190) <= tolerance && Math.abs(last[1] - 140) <= tolerance, `last point ${last}`);
  });
});
