#!/usr/bin/env node
/**
 * Benchmark the annotation app in Debian's Chromium: drawing on a 4096x4096 image that already
 * holds 1,000 strokes (work per frame and pointer-to-paint latency), undo and redo, page load,
 * and the size of the JavaScript bundle. Prints medians and p95s as Markdown for
 * docs/BENCHMARKS.md. Starts its own server (temporary database), stops by itself.
 *
 * Usage: node bench/run.js [--help] [--strokes N] [--moves N]
 */

import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { ROOT, launchBrowser, signIn, startServer, waitForImage, CHROMIUM } from '../e2e/harness.js';

const args = process.argv.slice(2);
if (args.includes('--help')) {
  console.log('Usage: node bench/run.js [--strokes N] [--moves N]\nMeasures drawing, undo, page load and bundle size; prints Markdown.');
  process.exit(0);
}
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const STROKES = option('--strokes', 1000);
const MOVES = option('--moves', 400);
const log = (m) => process.stderr.write(`[bench] ${m}\n`);

function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}
const fmt = (v) => (Number.isFinite(v) ? v.toFixed(2) : 'n/a');

/**
 * Return the JavaScript's sizes (raw and gzipped, in bytes): all of it, and the part the
 * service worker precaches (what an annotator downloads; the Review page's chunks are not in it).
 */
export function bundleSizes() {
  const dir = join(ROOT, 'dist/assets');
  const sw = readFileSync(join(ROOT, 'dist/sw.js'), 'utf8');
  const precached = new Set(JSON.parse(sw.match(/const ASSETS = (\[.*?\]);/)[1]).map((url) => url.split('/').pop()));
  const sizes = { raw: 0, gzip: 0, annotatorRaw: 0, annotatorGzip: 0 };
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.js'))) {
    const bytes = readFileSync(join(dir, name));
    const gzip = gzipSync(bytes, { level: 9 }).length;
    sizes.raw += bytes.length;
    sizes.gzip += gzip;
    if (precached.has(name)) {
      sizes.annotatorRaw += bytes.length;
      sizes.annotatorGzip += gzip;
    }
  }
  return sizes;
}

async function main() {
  const folder = join(ROOT, 'data/bench-4096');
  if (!existsSync(join(folder, 'images/big.png'))) {
    log('writing the 4096x4096 test image');
    execFileSync(join(ROOT, '.venv/bin/python'), ['bench/make_bench_image.py', folder], { cwd: ROOT, stdio: 'inherit' });
  }
  const server = await startServer();
  const browser = await launchBrowser();
  try {
    execFileSync(join(ROOT, '.venv/bin/python'), ['manage.py', 'import_dataset', 'data/bench-4096', '--name', 'Bench 4096', '--question', 'Real or fake?', '--choices', 'real,fake'], { cwd: ROOT, env: server.env, stdio: 'ignore' });
    const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    await signIn(page, server.url);
    const { datasetId, imageId } = await page.evaluate(async () => {
      const list = await (await fetch('/api/datasets/')).json();
      const dataset = list.results.find((d) => d.name === 'Bench 4096');
      const images = await (await fetch(`/api/images/?dataset=${dataset.id}`)).json();
      return { datasetId: dataset.id, imageId: images.results[0].id };
    });
    log(`storing ${STROKES} strokes on image ${imageId}`);
    const stored = await page.evaluate(async ({ id, n }) => {
      let seed = 7;
      const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
      const strokes = [];
      for (let s = 0; s < n; s++) {
        let x = random() * 4096;
        let y = random() * 4096;
        const points = [];
        for (let k = 0; k < 60; k++) {
          x = Math.min(4095, Math.max(0, x + (random() - 0.5) * 60));
          y = Math.min(4095, Math.max(0, y + (random() - 0.5) * 60));
          points.push([Math.round(x * 100) / 100, Math.round(y * 100) / 100, k * 8, 0.5]);
        }
        strokes.push({ tool: s % 5 === 4 ? 'eraser' : 'brush', width: 8 + (s % 7) * 6, points });
      }
      const csrf = document.cookie.match(/csrftoken=([^;]+)/)[1];
      // 100 strokes a save (~250,000 units of ink): one save may paint at most 400,000, and a PUT
      // appending to the stored strokes paints only those it adds.
      let answer = { version: 0 };
      for (let end = Math.min(100, n); answer.version === 0 || answer.stroke_count < n; end = Math.min(end + 100, n)) {
        const response = await fetch(`/api/images/${id}/annotation/`, {
          method: 'PUT',
          headers: { 'Content-Type': 'application/json', 'X-CSRFToken': csrf },
          body: JSON.stringify({ strokes: strokes.slice(0, end), label: null, text: '', status: 'draft', version: answer.version }),
        });
        answer = await response.json();
        if (!response.ok) return answer.detail;
      }
      return answer.stroke_count;
    }, { id: imageId, n: STROKES });
    if (stored !== STROKES) throw new Error(`the server stored ${stored} strokes, not ${STROKES}`);

    const url = `${server.url}/datasets/${datasetId}/images/${imageId}`;
    log('page loads');
    const loads = [];
    const maskBuilds = [];
    for (let k = 0; k < 5; k++) {
      const started = Date.now();
      await page.goto(url);
      await waitForImage(page);
      await page.waitForFunction(() => document.querySelector('.world img')?.complete, null, { timeout: 60000 });
      loads.push(Date.now() - started);
      maskBuilds.push(await page.evaluate(() => window.__eyetagger.canvas.loadMs()));
    }

    log('drawing');
    // The app's frame probe: the work of each frame while drawing, and from the oldest pointer
    // sample a frame shows to the end of that frame's work.
    await page.evaluate(() => {
      const measured = (window.__drawingMs = { frames: [], latencies: [] });
      window.__eyetagger.probes.frame = ({ started, ended, since }) => {
        measured.frames.push(ended - started);
        if (since !== null) measured.latencies.push(performance.timeOrigin + ended - since);
      };
    });
    const takeMeasured = () => page.evaluate(() => ({ frames: window.__drawingMs.frames.splice(0), latencies: window.__drawingMs.latencies.splice(0) }));
    await page.evaluate(() => {
      window.__handlerMs = [];
      let started = 0;
      window.addEventListener('pointermove', (e) => (started = performance.now()), true);
      window.addEventListener('pointermove', () => window.__handlerMs.push(performance.now() - started), false);
    });
    const box = await page.locator('[data-testid=stage]').boundingBox();
    const widths = [24, 96];
    const drawing = {};
    for (const width of widths) {
      await page.evaluate((w) => window.__eyetagger.store.commit('tools/setWidth', w), width);
      await takeMeasured();
      const frames = [];
      const latencies = [];
      for (let stroke = 0; stroke < 4; stroke++) {
        await page.mouse.move(box.x + 100 + stroke * 40, box.y + 100);
        await page.mouse.down();
        for (let k = 0; k < MOVES / 4; k++) {
          const a = k / (MOVES / 4);
          await page.mouse.move(box.x + 100 + stroke * 40 + a * 600, box.y + 100 + 250 * Math.sin(a * 6 + stroke));
        }
        await page.mouse.up();
        await page.evaluate(() => new Promise((r) => requestAnimationFrame(r)));
        const measured = await takeMeasured();
        frames.push(...measured.frames);
        latencies.push(...measured.latencies);
      }
      const handler = await page.evaluate(() => window.__handlerMs.splice(0));
      drawing[width] = { frames, latencies, handler };
    }

    log('undo and redo');
    const undo = await page.evaluate(() => {
      const store = window.__eyetagger.store;
      const times = { undo: [], redo: [] };
      for (let round = 0; round < 10; round++) {
        for (const kind of ['undo', 'redo']) {
          const started = performance.now();
          for (let k = 0; k < 8; k++) store.dispatch(`annotation/${kind}`);
          times[kind].push((performance.now() - started) / 8);
        }
      }
      return times;
    });
    const bundle = bundleSizes();
    const chromium = execFileSync(CHROMIUM, ['--version']).toString().trim();
    const cpu = cpus()[0]?.model || 'unknown CPU';
    const lines = [
      `Machine: ${cpus().length} cores (${cpu}), ${chromium} headless, --disable-gpu (software compositing), Node ${process.version}.`,
      `Command: \`make bench\` (node bench/run.js --strokes ${STROKES} --moves ${MOVES}); image 4096x4096 holding ${STROKES} stored strokes.`,
      '',
      '| measure | median | p95 | n |',
      '|---|---|---|---|',
    ];
    for (const width of widths) {
      const d = drawing[width];
      lines.push(`| drawing, brush ${width} px: work per frame (rasterize new segments + paint dirty rect), ms | ${fmt(quantile(d.frames, 0.5))} | ${fmt(quantile(d.frames, 0.95))} | ${d.frames.length} |`);
      lines.push(`| drawing, brush ${width} px: pointermove handler, ms | ${fmt(quantile(d.handler, 0.5))} | ${fmt(quantile(d.handler, 0.95))} | ${d.handler.length} |`);
      lines.push(`| drawing, brush ${width} px: pointer event to painted (includes the wait for the next frame), ms | ${fmt(quantile(d.latencies, 0.5))} | ${fmt(quantile(d.latencies, 0.95))} | ${d.latencies.length} |`);
    }
    lines.push(`| undo one stroke (delta), ms | ${fmt(quantile(undo.undo, 0.5))} | ${fmt(quantile(undo.undo, 0.95))} | ${undo.undo.length * 8} |`);
    lines.push(`| redo one stroke (delta), ms | ${fmt(quantile(undo.redo, 0.5))} | ${fmt(quantile(undo.redo, 0.95))} | ${undo.redo.length * 8} |`);
    lines.push(`| rasterize all ${STROKES} strokes (what a replay-based undo would cost; done once at load), ms | ${fmt(quantile(maskBuilds, 0.5))} | ${fmt(quantile(maskBuilds, 0.95))} | ${maskBuilds.length} |`);
    lines.push(`| page load to image and mask shown (reload of the Annotate page), ms | ${fmt(quantile(loads, 0.5))} | ${fmt(quantile(loads, 0.95))} | ${loads.length} |`);
    lines.push('');
    lines.push(
      `JavaScript bundle (all of dist/assets/*.js): ${(bundle.raw / 1024).toFixed(1)} KB raw, **${(bundle.gzip / 1024).toFixed(1)} KB gzipped** ` +
        `(target ≤ 150 KB); what an annotator loads (all but the Review page's chunks): ${(bundle.annotatorGzip / 1024).toFixed(1)} KB gzipped.`,
    );
    console.log(lines.join('\n'));
  } finally {
    await browser.close();
    await server.stop();
  }
}

// Run when executed (`node bench/run.js`), not when imported for bundleSizes().
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
