/**
 * Start the real EyeTagger (Django) on a free port with a temporary SQLite database, the demo
 * dataset and the demo accounts; drive Debian's Chromium through playwright-core; stop
 * everything afterwards. Every step is bounded in time. Used by the end-to-end tests and the
 * benchmarks.
 */

import { spawn, execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { PNG } from 'pngjs';

const run = promisify(execFile);
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PYTHON = join(ROOT, '.venv/bin/python');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const ACCOUNTS = { annotator: 'annotator-demo', researcher: 'researcher-demo', admin: 'admin-demo' };

function log(message) {
  if (process.env.E2E_QUIET !== '1') process.stderr.write(`[e2e] ${message}\n`);
}

/** Return a TCP port nobody listens on right now. */
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

async function manage(env, args, timeout = 120000) {
  return run(PYTHON, ['manage.py', ...args], { cwd: ROOT, env, timeout, maxBuffer: 64 * 1024 * 1024 });
}

/**
 * Start Django; return {url, port, env, stop(), kill(), restart(), python(code)}. `python(code)`
 * runs code in `manage.py shell` against the same database and returns its stdout; `kill()`
 * stops the server without a goodbye and `restart()` starts it again on the same port and database.
 */
export async function startServer({ port, study = false } = {}) {
  if (!existsSync(join(ROOT, 'dist/index.html'))) throw new Error('dist/ is missing: run `npm run build` first.');
  const dir = mkdtempSync(join(tmpdir(), 'eyetagger-e2e-'));
  const env = {
    ...process.env,
    DATABASE_URL: `sqlite:///${join(dir, 'db.sqlite3')}`,
    DEBUG: 'true',
    LOGIN_THROTTLE_RATE: '1000/min',
    PYTHONUNBUFFERED: '1',
  };
  port = port || (await freePort());
  await seedDatabase(env, dir, { port, study });
  const url = `http://127.0.0.1:${port}`;
  let child = null;
  let output = '';

  /** Start runserver on the port and wait until it answers (it may have been killed before). */
  async function launch() {
    log(`starting Django on 127.0.0.1:${port}`);
    child = spawn(PYTHON, ['manage.py', 'runserver', `127.0.0.1:${port}`, '--noreload'], {
      cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
    });
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const deadline = Date.now() + 60000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`Django exited early:\n${output}`);
      try {
        const response = await fetch(`${url}/api/health/`);
        if (response.ok) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`Django did not answer within 60 s:\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  await launch();

  const signal = (name) => {
    try {
      process.kill(-child.pid, name); // the whole group: runserver and anything it started
    } catch (error) {
      if (error.code !== 'ESRCH') throw error; // already gone
    }
  };
  /** Kill the server outright (SIGKILL: no goodbye), keeping its database; `restart()` brings it back. */
  async function kill() {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      log(`killing Django (pid ${child.pid})`);
      signal('SIGKILL');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    }
  }
  async function stop() {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      signal('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      signal('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  }
  async function python(code) {
    const { stdout } = await manage(env, ['shell', '-c', code]);
    return stdout;
  }
  return { url, port, env, stop, kill, restart: launch, python, output: () => output };
}

/**
 * Migrate the database in `dir` and load the demo dataset (and study) and accounts, as `make run`
 * does: about 9 s. With E2E_SEED_CACHE set to a folder (`make test-e2e` makes one per run), the
 * first server of the run seeds a database there and every later one copies it.
 */
async function seedDatabase(env, dir, { port, study }) {
  const cache = process.env.E2E_SEED_CACHE;
  const seeded = cache && join(cache, study ? 'study' : 'plain');
  if (seeded && existsSync(seeded)) {
    log(`copying the seeded database of ${seeded} into ${dir}`);
    for (const name of readdirSync(seeded)) copyFileSync(join(seeded, name), join(dir, name));
    return;
  }
  log(`migrating a temporary database in ${dir}`);
  await manage(env, ['migrate', '--no-input']);
  await manage(env, [
    'import_dataset', 'data/demo', '--name', 'Demo irises', '--question', 'Is this image real or fake?',
    '--choices', 'real,fake', '--require', 'choice,mask',
  ]);
  if (study) await importDemoStudy(env);
  await manage(env, ['create_demo_accounts', '--url', `http://127.0.0.1:${port}/`]);
  if (seeded) {
    // The database and its write-ahead log, if one is left; renamed into place whole.
    mkdirSync(cache, { recursive: true });
    const partial = mkdtempSync(join(cache, 'partial-'));
    for (const name of readdirSync(dir).filter((n) => n.startsWith('db.sqlite3'))) copyFileSync(join(dir, name), join(partial, name));
    try {
      renameSync(partial, seeded);
    } catch (error) {
      rmSync(partial, { recursive: true, force: true }); // another file's server seeded it first
      if (!existsSync(seeded)) throw error;
    }
  }
}

/** Import the demo study (docs/examples/iris-saliency-study.yaml) and its three datasets, as `make run` does. */
async function importDemoStudy(env) {
  for (const role of ['main', 'practice', 'catch']) {
    await manage(env, [
      'import_dataset', `data/demo-study/${role}`, '--slug', `demo-study-${role}`, '--name', `Demo study ${role}`,
      '--question', 'Is this image real or fake?', '--choices', 'real,fake', '--require', 'choice,mask', '--access', 'chosen',
      ...(role === 'main' ? ['--annotators-per-image', '3'] : []),
    ]);
  }
  await manage(env, ['import_study', 'docs/examples/iris-saliency-study.yaml']);
}

/** Launch Debian's Chromium headless (never a downloaded browser). */
export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    timeout: 60000,
  });
}

/** A page the size of a laptop's screen whose uncaught errors show in the test's output. */
export async function openPage(browser, options = {}) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 720 }, ...options });
  page.on('pageerror', (error) => console.error('page error:', error.message));
  return page;
}

/** Sign in through the page's form and wait for the datasets list. */
export async function signIn(page, url, username = 'annotator') {
  await page.goto(`${url}/signin`);
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', ACCOUNTS[username]);
  await page.click('button[type=submit]');
  await page.waitForSelector('.dataset-card');
}

/** Open the first dataset and wait until the canvas shows an image. */
export async function startAnnotating(page) {
  await page.click('[data-testid^=start-]');
  await waitForImage(page);
}

export async function waitForImage(page, previousId = null, timeout = 45000) {
  try {
    await page.waitForFunction(
      (prev) => {
        const state = window.__eyetagger && window.__eyetagger.store.state;
        const s = state && state.annotation;
        const canvas = window.__eyetagger && window.__eyetagger.canvas;
        return s && s.draft && canvas && canvas.mask() && s.draft.imageId !== prev && !state.navigation.loading;
      },
      previousId,
      { timeout },
    );
  } catch (error) {
    // Say what the page was doing: a bare timeout tells nothing.
    const state = await page
      .evaluate(() => {
        const e = window.__eyetagger;
        if (!e) return { url: location.href, app: 'not started' };
        const { annotation, navigation, sync } = e.store.state;
        return { url: location.href, loading: navigation.loading, error: navigation.error, draft: annotation.draft && annotation.draft.imageId, sync };
      })
      .catch((e) => ({ unreadable: e.message }));
    throw new Error(`${error.message}\npage state: ${JSON.stringify(state)}`);
  }
  return page.evaluate(() => window.__eyetagger.store.state.annotation.draft.imageId);
}

/**
 * Wait until the stage's image has loaded or failed; return true if the browser shows it
 * (decoded, with pixels), false if it could not be loaded (the page's "could not be loaded" notice).
 */
export async function imageShown(page, timeout = 20000) {
  const handle = await page.waitForFunction(
    () => {
      const img = document.querySelector('[data-testid=stage] img');
      if (document.querySelector('[data-testid=stage] .stage__error')) return 'failed';
      return img && img.complete && img.naturalWidth > 0 ? 'shown' : false;
    },
    null,
    { timeout },
  );
  return (await handle.jsonValue()) === 'shown';
}

/** Finish the dataset as `client` (apiClient): skip its first image with a reason, submit a stroke and an answer on every other. */
export async function finishDataset(client, datasetId = 1) {
  let handout = await client.get(`/api/datasets/${datasetId}/next/?ahead=0`);
  let skipped = false;
  while (handout.image) {
    const image = handout.image;
    if (!skipped) {
      skipped = true;
      handout = await client.post(`/api/images/${image.id}/skip/?ahead=0`, { reason: 'too blurred to tell' });
      continue;
    }
    const stroke = { tool: 'brush', width: 20, points: [[40, 40, 0, 0.5], [90, 60, 40, 0.5]] };
    await client.put(`/api/images/${image.id}/annotation/`, { strokes: [stroke], label: 'real', text: '', status: 'submitted', version: 0, active_ms: 3000 });
    handout = await client.get(`/api/datasets/${datasetId}/next/?ahead=0`);
  }
  return handout.progress;
}

let axeSource = null;

/**
 * Run axe-core on the page (or on `selector`'s element) and return its serious and critical
 * violations as short lines ("rule: help (target)"); [] when there is none. axe is evaluated
 * through the DevTools protocol, so the page's Content Security Policy does not block it.
 */
export async function axeViolations(page, selector = null) {
  axeSource ??= readFileSync(join(ROOT, 'node_modules/axe-core/axe.min.js'), 'utf8');
  if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) await page.evaluate(axeSource);
  const violations = await page.evaluate(async (sel) => {
    const result = await window.axe.run(sel ? document.querySelector(sel) : document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')) }));
  }, selector);
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.help} (${v.targets.slice(0, 4).join(', ')})`);
}

/** Draw a stroke with the mouse through image-pixel points (converted with the page's view). */
export async function drawStroke(page, points, { steps = 4 } = {}) {
  const box = await page.locator('[data-testid=stage]').boundingBox();
  const view = await page.evaluate(() => window.__eyetagger.canvas.view());
  const toScreen = ([x, y]) => [box.x + x * view.zoom + view.tx, box.y + y * view.zoom + view.ty];
  const [sx, sy] = toScreen(points[0]);
  await page.mouse.move(sx, sy);
  await page.mouse.down();
  for (const p of points.slice(1)) {
    const [x, y] = toScreen(p);
    await page.mouse.move(x, y, { steps });
  }
  await page.mouse.up();
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r())));
}

/** Return the page's mask as {width, height, area, bits} (bits: a '0'/'1' string, row-major). */
export function pageMask(page) {
  return page.evaluate(() => {
    const m = window.__eyetagger.canvas.mask();
    let bits = '';
    for (let i = 0; i < m.mask.length; i++) bits += m.mask[i] ? '1' : '0';
    return { width: m.width, height: m.height, area: m.area, bits };
  });
}

/**
 * Return the server's mask of a stored annotation, rasterized from its stored strokes, in the same form;
 * `stored_bits` is the mask it stored (painted a change at a time by incremental saves).
 */
export async function serverMask(server, imageId, username = 'annotator') {
  const out = await server.python(
    [
      'import json',
      'from backend.api.models import Annotation',
      'from backend.api.masks import rle_decode',
      'from backend.api.selectors.strokes import annotation_strokes',
      'from backend.api.strokes import rasterize',
      `a = Annotation.objects.select_related("image").get(image_id=${Number(imageId)}, annotator__username="${username}")`,
      'm = rasterize(annotation_strokes(a), a.image.width, a.image.height)',
      's = rle_decode(a.mask_rle, a.image.width, a.image.height)',
      'bits = lambda mask: "".join("1" if v else "0" for v in mask.ravel().tolist())',
      'print(json.dumps({"area": int(m.sum()), "stored_area": a.mask_area, "bits": bits(m), "stored_bits": bits(s)}))',
    ].join('\n'),
  );
  return JSON.parse(out.trim().split('\n').pop());
}

/** GET an API path with the page's session (as the annotator sees it). */
export function apiGet(page, path) {
  return page.evaluate(async (p) => {
    const response = await fetch(p, { headers: { Accept: 'application/json' }, cache: 'no-store' });
    return { status: response.status, body: await response.json() };
  }, path);
}

/** Wait until the save-state indicator says Saved and nothing waits. */
export async function waitSaved(page, timeout = 30000) {
  await page.waitForFunction(() => {
    const s = window.__eyetagger.store.state.sync;
    return s.status === 'saved' && s.waiting === 0;
  }, null, { timeout });
}

/** Decode a mask PNG (1-bit or 8-bit greyscale; white is set) into {width, height, area, bits} as pageMask gives. */
export function decodeMaskPng(buffer) {
  const png = PNG.sync.read(buffer); // always RGBA, 8 bits a channel
  const chars = new Array(png.width * png.height);
  let area = 0;
  for (let i = 0; i < chars.length; i++) {
    const set = png.data[i * 4] > 127;
    chars[i] = set ? '1' : '0';
    if (set) area += 1;
  }
  return { width: png.width, height: png.height, area, bits: chars.join('') };
}

/** Compare two masks given as '0'/'1' strings: the pixels that differ, and IoU (1 when both are empty). */
export function compareMasks(a, b) {
  if (a.length !== b.length) throw new Error(`masks of different sizes: ${a.length} and ${b.length} pixels`);
  let both = 0;
  let either = 0;
  let differing = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a.charCodeAt(i) === 49;
    const y = b.charCodeAt(i) === 49;
    if (x && y) both += 1;
    if (x || y) either += 1;
    if (x !== y) differing += 1;
  }
  return { differing, iou: either ? both / either : 1, intersection: both, union: either };
}

/** GET a file with the page's session; return {status, headers, body: Buffer}. */
export async function fetchBytes(page, path) {
  const response = await page.request.get(new URL(path, page.url()).href);
  return { status: response.status(), headers: response.headers(), body: await response.body() };
}

/** Create a user with a role (and optionally a test user) in the server's database. */
export async function createUser(server, username, password, role = 'annotator', { isTest = false } = {}) {
  await server.python(
    [
      'from backend.api import services',
      'from backend.api.models import Role',
      `services.user_create(username=${JSON.stringify(username)}, password=${JSON.stringify(password)}, role=Role(${JSON.stringify(role)}), is_test=${isTest ? 'True' : 'False'})`,
    ].join('\n'),
  );
}

/** A small client of the REST API with token authentication (for seeding data in tests). */
export async function apiClient(url, username, password) {
  const login = await fetch(`${url}/api/auth/token/login/`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (!login.ok) throw new Error(`token login of ${username} failed: ${login.status} ${await login.text()}`);
  const { auth_token: token } = await login.json();
  async function call(method, path, body) {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { Authorization: `Token ${token}`, 'Content-Type': 'application/json', Accept: 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path} as ${username}: ${response.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }
  return { get: (path) => call('GET', path), put: (path, body) => call('PUT', path, body), post: (path, body) => call('POST', path, body) };
}
