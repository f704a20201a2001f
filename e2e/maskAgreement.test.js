/**
 * Browser and server draw the same mask. In Chromium, the real mouse draws known strokes on
 * the Annotate page with every tool — brush, eraser, lasso fill, lasso erase, a stroke running
 * off the image's edge — and the mask the canvas shows (read through its test hook) is
 * compared with GET /api/annotations/{id}/mask.png of the saved annotation, decoded here.
 * The issue asks for IoU >= 0.99; they are in fact identical, and the test says how many
 * pixels differ.
 */

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  apiGet, compareMasks, decodeMaskPng, drawStroke, fetchBytes, launchBrowser, openPage, pageMask, signIn, startAnnotating,
  startServer, waitSaved,
} from './harness.js';

describe('the mask the browser shows and the mask the server serves', { timeout: 240000 }, () => {
  let server;
  let browser;
  let page;
  let imageId;

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
    page = await openPage(browser);
    await signIn(page, server.url);
    await startAnnotating(page);
    imageId = await page.evaluate(() => window.__eyetagger.store.state.annotation.draft.imageId);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  /** Compare the page's mask with the saved annotation's mask.png; return the comparison. */
  async function compareWithServer() {
    await waitSaved(page);
    const shown = await pageMask(page);
    const { body: annotation } = await apiGet(page, `/api/images/${imageId}/annotation/`);
    const png = await fetchBytes(page, `/api/annotations/${annotation.id}/mask.png`);
    assert.equal(png.status, 200);
    assert.equal(png.headers['content-type'], 'image/png');
    const served = decodeMaskPng(png.body);
    assert.deepEqual([served.width, served.height], [shown.width, shown.height]);
    const comparison = compareMasks(shown.bits, served.bits);
    console.log(
      `[mask agreement] ${annotation.strokes.map((s) => s.tool).join(', ')}: ${shown.area} px shown, ${served.area} px served, ` +
        `${comparison.differing} differing pixels, IoU ${comparison.iou.toFixed(6)}`,
    );
    assert.ok(comparison.iou >= 0.99, `IoU ${comparison.iou} is below 0.99`);
    assert.equal(comparison.differing, 0, `${comparison.differing} pixels differ`);
    assert.equal(annotation.mask_area, shown.area);
    return { shown, served, annotation };
  }

  it('agrees after a brush stroke', async () => {
    await page.keyboard.press('b');
    await drawStroke(page, [[40, 50], [110, 70], [190, 60], [270, 110]]);
    const { shown } = await compareWithServer();
    assert.ok(shown.area > 1000);
  });

  it('agrees after the eraser cuts through it', async () => {
    await page.keyboard.press('x');
    await drawStroke(page, [[150, 20], [160, 140]]);
    const { annotation } = await compareWithServer();
    assert.deepEqual(annotation.strokes.map((s) => s.tool), ['brush', 'eraser']);
  });

  it('agrees after a lasso fills a region', async () => {
    await page.keyboard.press('l');
    await drawStroke(page, [[60, 130], [150, 120], [170, 200], [90, 220], [50, 180]]);
    await compareWithServer();
  });

  it('agrees after a lasso erases inside it', async () => {
    await page.keyboard.press('Shift+L');
    await drawStroke(page, [[90, 150], [130, 150], [120, 190]]);
    const { annotation } = await compareWithServer();
    assert.equal(annotation.strokes.at(-1).tool, 'lasso-eraser');
  });

  it('agrees after a stroke that runs off the image’s edges', async () => {
    await page.keyboard.press('b');
    await page.keyboard.press(']');
    await page.keyboard.press(']');
    // From inside, out past the right edge and the bottom corner, then back in along the bottom.
    await drawStroke(page, [[280, 150], [335, 200], [330, 250], [250, 245]]);
    const { annotation, served } = await compareWithServer();
    const points = annotation.strokes.at(-1).points;
    assert.ok(points.some(([x, y]) => x > 320 || y > 240), 'a point lies outside the image');
    const lastColumn = Array.from({ length: served.height }, (_, row) => served.bits[row * served.width + served.width - 1]);
    assert.ok(lastColumn.includes('1'), 'the mask reaches the image’s right edge');
    assert.ok(served.bits.slice(-served.width).includes('1'), 'and its bottom row');
  });
});
