#!/usr/bin/env node
/**
 * Take the manual's screenshot of the Annotate page (docs/img/annotate.png): the real app on the
 * demo dataset, in Debian's Chromium, with the iris drawn, an answer and a justification. Run it
 * after the page's look changes; it needs `make build` first.
 */

import { join } from 'node:path';
import { PNG } from 'pngjs';
import { ROOT, drawStroke, fetchBytes, launchBrowser, openPage, signIn, startAnnotating, startServer, waitSaved } from './harness.js';

const OUT = join(ROOT, 'docs/img/annotate.png');

if (process.argv.includes('--help')) {
  console.log(`Usage: node e2e/docsScreenshot.js

Start EyeTagger on a temporary database with the demo dataset, sign in as the demo annotator,
draw the iris of the first image, iris_01.png (a ring: lasso, then lasso erase), answer and type a justification, and save the page as
${OUT.slice(ROOT.length + 1)} (1280x720). Needs dist/ (make build) and Chromium (CHROMIUM=...).`);
  process.exit(0);
}

/** Return points round a circle in image pixels, as a hand would trace it. */
const circle = (cx, cy, r, n = 36) =>
  Array.from({ length: n + 1 }, (_, k) => [cx + r * Math.cos((2 * Math.PI * k) / n), cy + r * Math.sin((2 * Math.PI * k) / n)]);

/**
 * Find the iris in a demo picture (deploy/make_demo_dataset.py): the pupil is the dark disc near the
 * middle, and the iris ends where the bright sclera starts, left and right of the pupil.
 */
function findIris(png) {
  const grey = (x, y) => png.data[(y * png.width + Math.round(x)) * 4];
  let [sx, sy, n] = [0, 0, 0];
  for (let y = 0; y < png.height; y++) {
    for (let x = 0; x < png.width; x++) {
      if (Math.hypot(x - png.width / 2, y - png.height / 2) < 45 && grey(x, y) < 40) [sx, sy, n] = [sx + x, sy + y, n + 1];
    }
  }
  if (n === 0) throw new Error('no pupil found in the middle of the picture: is it a demo iris?');
  const [cx, cy] = [sx / n, sy / n];
  const edge = (step) => {
    let x = cx + step * Math.sqrt(n / Math.PI);
    while (x > 0 && x < png.width - 1 && grey(x, Math.round(cy)) < 150) x += step;
    return Math.abs(x - cx);
  };
  return { cx, cy, pupil: Math.sqrt(n / Math.PI) + 2, iris: (edge(1) + edge(-1)) / 2 - 3 };
}

const log = (message) => process.stderr.write(`[docsScreenshot] ${message}\n`);

const server = await startServer();
const browser = await launchBrowser();
try {
  // The file's order, so the picture is the same every time: iris_01.png, a real iris.
  await server.python("from backend.api.models import Dataset; Dataset.objects.update(order='file')");
  const page = await openPage(browser);
  log('signing in as the demo annotator');
  await signIn(page, server.url);
  await startAnnotating(page);
  log('drawing the iris: a lasso round it, a lasso erase over the pupil; an answer, a text');
  const image = await page.evaluate(() => window.__eyetagger.store.state.annotation.draft.image);
  const eye = findIris(PNG.sync.read((await fetchBytes(page, image.file_url)).body));
  await page.click('[data-testid=tool-lasso]');
  await drawStroke(page, circle(eye.cx, eye.cy, eye.iris), { steps: 2 });
  await page.click('[data-testid=tool-lasso-eraser]');
  await drawStroke(page, circle(eye.cx, eye.cy, eye.pupil), { steps: 2 });
  await page.click('[data-testid=choice-real]');
  await page.fill('[data-testid=text]', 'Regular crypts and a sharp pupil edge; no print dots.');
  await waitSaved(page);
  await page.mouse.move(1100, 650); // the brush's footprint circle stays out of the picture
  await page.screenshot({ path: OUT });
  log(`wrote ${OUT}`);
} finally {
  await browser.close();
  await server.stop();
}
