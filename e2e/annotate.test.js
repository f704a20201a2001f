/**
 * End to end, in Debian's Chromium against the real Django server: an annotator signs in,
 * draws, erases, undoes, redoes, answers, types and goes on; the server must hold exactly
 * the strokes drawn, and its mask (stored area, and the stored strokes rasterized by the
 * server's own code) must equal the mask the page showed, pixel for pixel.
 */

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ROOT, apiGet, compareMasks, decodeMaskPng, drawStroke, fetchBytes, launchBrowser, openPage, pageMask, serverMask, signIn,
  startAnnotating, startServer, waitForImage, waitSaved,
} from './harness.js';

const ARTIFACTS = join(ROOT, 'artifacts');

describe('annotating an image', { timeout: 240000 }, () => {
  let server;
  let browser;
  let page;
  let firstImage;
  let drawn;

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    server = await startServer();
    browser = await launchBrowser();
    page = await openPage(browser);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('signs in and opens the first image of the dataset', async () => {
    await signIn(page, server.url);
    await startAnnotating(page);
    firstImage = await page.evaluate(() => window.__eyetagger.store.state.annotation.draft.imageId);
    assert.match(await page.textContent('[data-testid=position]'), /Image 1 of 12/);
    assert.match(await page.textContent('[data-testid=short-id]'), /^[0-9a-f]{8}$/);
  });

  it('draws a brush stroke with the mouse and shows it in the mask', async () => {
    await drawStroke(page, [[60, 60], [120, 90], [200, 120], [260, 180]]);
    const mask = await pageMask(page);
    assert.ok(mask.area > 500, `the brush painted ${mask.area} pixels`);
  });

  it('erases part of the stroke with the eraser', async () => {
    const before = (await pageMask(page)).area;
    await page.click('[data-testid=tool-eraser]');
    await drawStroke(page, [[150, 40], [170, 200]]);
    const after = (await pageMask(page)).area;
    assert.ok(after < before, `the eraser cleared pixels (${before} -> ${after})`);
  });

  it('undoes the eraser with Ctrl+Z and redoes it with the button', async () => {
    const erased = await pageMask(page);
    await page.keyboard.press('Control+z');
    const undone = await pageMask(page);
    assert.ok(undone.area > erased.area);
    assert.equal(await page.evaluate(() => window.__eyetagger.store.state.annotation.strokes.length), 1);
    await page.click('[data-testid=redo]');
    const redone = await pageMask(page);
    assert.equal(redone.bits, erased.bits);
    assert.equal(await page.evaluate(() => window.__eyetagger.store.state.annotation.strokes.length), 2);
  });

  it('fills a region with the lasso', async () => {
    const before = (await pageMask(page)).area;
    await page.keyboard.press('l');
    await drawStroke(page, [[40, 160], [110, 150], [120, 220], [50, 225]]);
    assert.ok((await pageMask(page)).area > before + 2000);
    await page.keyboard.press('b');
  });

  it('refuses to go on without an answer, saying what is missing', async () => {
    await page.click('[data-testid=next]');
    const notice = await page.textContent('[data-testid=notice]');
    assert.match(notice, /choose an answer/);
    assert.equal(await page.evaluate(() => window.__eyetagger.store.state.annotation.draft.imageId), firstImage);
  });

  it('picks a choice with the key 2 and types a justification', async () => {
    await page.keyboard.press('2');
    assert.equal(await page.getAttribute('[data-testid=choice-fake]', 'aria-checked'), 'true');
    await page.fill('[data-testid=text]', 'the iris texture repeats');
    await page.keyboard.press('Escape'); // leave the text box, so keys are shortcuts again
  });

  it('saves a screenshot of the Annotate page at 1280x720 and at tablet sizes', async () => {
    await page.mouse.move(700, 330);
    await page.screenshot({ path: join(ARTIFACTS, 'annotate-1280x720.png') });
    await page.setViewportSize({ width: 1024, height: 768 });
    await page.evaluate(() => new Promise((r) => setTimeout(r, 200)));
    await page.screenshot({ path: join(ARTIFACTS, 'annotate-tablet-1024x768.png') });
    await page.setViewportSize({ width: 768, height: 1024 });
    await page.evaluate(() => new Promise((r) => setTimeout(r, 200)));
    await page.screenshot({ path: join(ARTIFACTS, 'annotate-tablet-768x1024.png') });
    await page.setViewportSize({ width: 1280, height: 720 });
    await page.keyboard.press('f');
  });

  it('goes to the next image with E once complete', async () => {
    await waitSaved(page);
    drawn = await page.evaluate(() => {
      const s = window.__eyetagger.store.state.annotation;
      return { strokes: JSON.parse(JSON.stringify(s.strokes)), label: s.draft.label, text: s.draft.text };
    });
    drawn.mask = await pageMask(page);
    await page.keyboard.press('e');
    const next = await waitForImage(page, firstImage);
    assert.notEqual(next, firstImage);
    assert.match(await page.textContent('[data-testid=position]'), /Image 2 of 12/);
  });

  it('stored exactly the strokes drawn, the answer, the text, and the submission', async () => {
    await waitSaved(page);
    const { status, body } = await apiGet(page, `/api/images/${firstImage}/annotation/`);
    assert.equal(status, 200);
    assert.deepEqual(body.strokes, drawn.strokes);
    assert.deepEqual(body.strokes.map((s) => s.tool), ['brush', 'eraser', 'lasso']);
    assert.equal(body.label, 'fake');
    assert.equal(body.text, 'the iris texture repeats');
    assert.equal(body.status, 'submitted');
    for (const stroke of body.strokes) {
      for (const [, , t, p] of stroke.points) assert.ok(t >= 0 && p >= 0 && p <= 1);
    }
  });

  it('stored a mask equal to the one the page showed, pixel for pixel', async () => {
    const { body } = await apiGet(page, `/api/images/${firstImage}/annotation/`);
    assert.equal(body.mask_area, drawn.mask.area);
    const server_ = await serverMask(server, firstImage);
    assert.equal(server_.stored_area, drawn.mask.area);
    assert.equal(server_.bits, drawn.mask.bits);
    assert.equal(server_.stored_bits, drawn.mask.bits);
    // And as researchers get it: GET mask.png, decoded here.
    const png = await fetchBytes(page, `/api/annotations/${body.id}/mask.png`);
    assert.equal(png.status, 200);
    const served = decodeMaskPng(png.body);
    assert.equal(served.area, drawn.mask.area);
    assert.equal(compareMasks(served.bits, drawn.mask.bits).differing, 0);
  });

  it('goes back to the submitted image with Q and shows its mask again', async () => {
    const second = await page.evaluate(() => window.__eyetagger.store.state.annotation.draft.imageId);
    await page.keyboard.press('q');
    assert.equal(await waitForImage(page, second), firstImage);
    assert.equal((await pageMask(page)).bits, drawn.mask.bits);
  });

  it('counts the submitted image in the dataset’s progress', async () => {
    const { body } = await apiGet(page, '/api/datasets/');
    const { done, total, in_progress: inProgress } = body.results[0].progress;
    // In progress: the open image and the ten the app leases ahead (docs/datasets.md, "Leasing ahead" in "Assignment").
    assert.deepEqual({ done, total, inProgress }, { done: 1, total: 12, inProgress: 11 });
  });
});
