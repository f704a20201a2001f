/**
 * An original EyeTagger deployment brought over, end to end: a fixture deployment (its backup and
 * data/dataset, drawn as fabric.js draws) is imported by the real command into the running
 * server; an original user signs in with their old password, and a researcher finds the imported
 * annotations on the Review page, tagged as imported, with the masks the original stored.
 */

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ROOT, decodeMaskPng, compareMasks, fetchBytes, launchBrowser, openPage, signIn, startServer } from './harness.js';

const run = promisify(execFile);
const PYTHON = join(ROOT, '.venv/bin/python');
const ARTIFACTS = join(ROOT, 'artifacts');

describe('an original EyeTagger deployment brought over', { timeout: 300000 }, () => {
  let server;
  let browser;
  let page;
  // Below DATASET_ROOT (data/ by default), as the importer requires; removed after.
  const folder = join(ROOT, 'data', `e2e-original-${process.pid}`);

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    server = await startServer();
    await run(PYTHON, ['backend/api/tests/original_fixtures.py', folder], { cwd: ROOT, timeout: 120000 });
    const { stdout } = await run(
      PYTHON,
      [
        'manage.py', 'import_original', '--dump', join(folder, 'eyetagger_bkp_2024_06_24_06_00_PM.sql.gz'),
        '--dataset-dir', join(folder, 'dataset'), '--name', 'Original irises',
        '--map-user', 'admin=admin_original', // the demo accounts have an admin already
      ],
      { cwd: ROOT, env: server.env, timeout: 120000 },
    );
    assert.match(stdout, /Annotations: 9 imported/);
    browser = await launchBrowser();
    page = await openPage(browser);
  });

  after(async () => {
    if (browser) await browser.close();
    if (server) await server.stop();
    rmSync(folder, { recursive: true, force: true });
  });

  it('signs an original user in with the password they had', async () => {
    await page.goto(`${server.url}/signin`);
    await page.fill('input[name=username]', 'alice');
    await page.fill('input[name=password]', 'alice-pass-1');
    await page.click('button[type=submit]');
    await page.waitForSelector('.dataset-card');
    assert.match(await page.locator('.dataset-card').allTextContents().then((t) => t.join(' ')), /Original irises/);
    await page.context().clearCookies();
  });

  it('shows a researcher the imported annotations as imported, with the masks the original stored', async () => {
    const ids = JSON.parse(
      (
        await server.python(
          [
            'import json',
            'from backend.api.models import Image, Annotation',
            'image = Image.objects.get(dataset__name="Original irises", path="images/img1.png")',
            'seven = Annotation.objects.get(original__original_id=7)',
            'print(json.dumps({"dataset": image.dataset_id, "image": image.pk, "annotation": seven.pk}))',
          ].join('\n'),
        )
      )
        .trim()
        .split('\n')
        .pop(),
    );
    await signIn(page, server.url, 'researcher');
    await page.goto(`${server.url}/datasets/${ids.dataset}/review/images/${ids.image}?status=all&test=1`);
    const card = page.locator(`[data-testid=answer-${ids.annotation}]`);
    await card.waitFor();
    await page.waitForFunction(() => window.__eyetagger.review && window.__eyetagger.review.masks().length >= 2);
    assert.equal((await card.locator('[data-testid=answer-imported]').textContent()).trim(), 'imported');
    assert.match(await card.textContent(), /Imported from the original EyeTagger \(its row 7\): the mask is the one it stored/);
    // The layer shows the stored mask: the original PNG's, pixel for pixel (the API tests check that).
    const stored = decodeMaskPng((await fetchBytes(page, `/api/annotations/${ids.annotation}/mask.png`)).body);
    const shown = await page.evaluate((id) => {
      const layer = window.__eyetagger.review.masks().find((m) => m.id === id);
      let bits = '';
      for (let i = 0; i < layer.mask.length; i++) bits += layer.mask[i] ? '1' : '0';
      return bits;
    }, ids.annotation);
    assert.ok(stored.area > 500);
    assert.equal(compareMasks(shown, stored.bits).differing, 0);
    await page.screenshot({ path: join(ARTIFACTS, 'review-imported-original.png') });
  });
});
