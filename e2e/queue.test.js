/**
 * The assignment queue in the annotation app, in Debian's Chromium against the real server:
 * skipping with a reason (the server records it), coming back after a reload to the image the
 * server kept, progress in the top bar and on the dataset card, and a save refused because the
 * image meanwhile got every annotator it needs (the draft is kept, the page moves on).
 */

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT, drawStroke, launchBrowser, openPage, signIn, startAnnotating, startServer, waitForImage, waitSaved } from './harness.js';

const ARTIFACTS = join(ROOT, 'artifacts');

describe('the assignment queue in the app', { timeout: 240000 }, () => {
  let server;
  let browser;
  let page;
  let datasetId;
  let skipped;
  let kept;

  const currentImage = () => page.evaluate(() => window.__eyetagger.store.state.annotation.draft.imageId);

  async function shell(lines) {
    const out = await server.python(lines.join('\n'));
    return JSON.parse(out.trim().split('\n').pop());
  }

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

  it('shows the annotator’s progress in the top bar', async () => {
    await signIn(page, server.url);
    await startAnnotating(page);
    datasetId = await page.evaluate(() => window.__eyetagger.store.state.navigation.datasetId);
    assert.match(await page.textContent('[data-testid=progress]'), /0\/12 done · <1 min/);
    const ahead = await page.evaluate(() => window.__eyetagger.store.state.navigation.ahead.length);
    assert.equal(ahead, 11, 'the server leased ten images ahead, after the open one');
  });

  it('skips an image with a reason, and the server records the reason', async () => {
    skipped = await currentImage();
    await page.keyboard.press('s');
    await page.waitForSelector('[data-testid=skip-dialog]');
    assert.equal(await page.isDisabled('[data-testid=skip-confirm]'), true, 'a reason is required');
    await page.click('text=Too blurry to tell');
    await page.fill('[data-testid=skip-reason]', 'Too blurry to tell, and the lashes cover it');
    await page.screenshot({ path: join(ARTIFACTS, 'queue-skip.png') });
    await page.click('[data-testid=skip-confirm]');
    const next = await waitForImage(page, skipped);
    assert.notEqual(next, skipped);
    assert.equal(await page.isVisible('[data-testid=skip-dialog]'), false);
    const stored = await shell([
      'import json',
      'from backend.api.models import Assignment',
      `a = Assignment.objects.get(image_id=${skipped}, annotator__username="annotator")`,
      'print(json.dumps([a.status, a.skip_reason]))',
    ]);
    assert.deepEqual(stored, ['skipped', 'Too blurry to tell, and the lashes cover it']);
    assert.match(await page.textContent('[data-testid=progress]'), /0\/12 done · 1 skipped/);
  });

  it('comes back to the same image after a reload, saying it continues where it stopped', async () => {
    kept = await currentImage();
    await drawStroke(page, [[80, 80], [160, 120]]);
    await waitSaved(page);
    await page.goto(`${server.url}/`);
    await page.waitForSelector('.dataset-card');
    await page.goto(`${server.url}/datasets/${datasetId}/start`); // asks the server what comes next
    assert.equal(await waitForImage(page), kept);
    await page.waitForSelector('[data-testid=resumed]');
    assert.match(await page.textContent('[data-testid=resumed]'), /Continuing where you stopped/);
    await page.screenshot({ path: join(ARTIFACTS, 'queue-resumed.png') });
    assert.equal(await page.evaluate(() => window.__eyetagger.store.state.annotation.strokes.length), 1);
  });

  it('counts a submitted image in the top bar and on the dataset card', async () => {
    await page.keyboard.press('1');
    await page.keyboard.press('e');
    await waitForImage(page, kept);
    assert.equal(await page.isVisible('[data-testid=resumed]'), false);
    assert.match(await page.textContent('[data-testid=progress]'), /1\/12 done · 1 skipped/);
    await page.screenshot({ path: join(ARTIFACTS, 'queue-annotate.png') });
    await page.goto(`${server.url}/`);
    await page.waitForSelector(`[data-testid=progress-${datasetId}]`);
    assert.match(await page.textContent(`[data-testid=progress-${datasetId}]`), /1\s*\/\s*12 done · 1 skipped/);
    await page.screenshot({ path: join(ARTIFACTS, 'queue-datasets.png') });
    await page.click(`[data-testid=start-${datasetId}]`);
    await waitForImage(page);
  });

  it('keeps a drawing the server refuses because the image got every annotator it needs, and moves on', async () => {
    const full = await currentImage();
    // Meanwhile: one annotator per image is enough, this annotator's leases ran out and
    // someone else took the image's only place.
    await server.python(
      [
        'from datetime import timedelta',
        'from django.utils import timezone',
        'from backend.api import services',
        'from backend.api.models import Assignment, Dataset, Image, Role',
        `dataset = Dataset.objects.get(pk=${datasetId})`,
        'dataset.annotators_per_image = 1',
        'dataset.save()',
        'Assignment.objects.filter(annotator__username="annotator", status="leased").update(leased_until=timezone.now() - timedelta(seconds=1))',
        'services.release_expired_leases(dataset=dataset)',
        'other = services.user_create(username="other", password="other-annotator-pass-1", role=Role.ANNOTATOR)',
        `content = services.AnnotationContent(strokes=[], label=None, text="", status="draft")`,
        `services.annotation_save(image=Image.objects.get(pk=${full}), annotator=other, content=content, base_version=0)`,
      ].join('\n'),
    );
    await drawStroke(page, [[100, 60], [120, 160], [200, 150]]);
    const drawn = await page.evaluate(() => JSON.parse(JSON.stringify(window.__eyetagger.store.state.annotation.strokes)));
    const next = await waitForImage(page, full);
    assert.notEqual(next, full);
    assert.match(await page.textContent('[data-testid=queue-banner]'), /already has all the annotators it needs.*stays in this browser/);
    await waitSaved(page, 15000); // nothing left waiting: the refused drawing is not retried
    await page.screenshot({ path: join(ARTIFACTS, 'queue-full.png') });
    // The drawing is still in this browser's IndexedDB, not on the server.
    const local = await page.evaluate(
      (key) =>
        new Promise((resolve, reject) => {
          const open = indexedDB.open('eyetagger');
          open.onsuccess = () => {
            const get = open.result.transaction('drafts').objectStore('drafts').get(key);
            get.onsuccess = () => resolve(get.result.strokes.map((s) => ({ tool: s.tool, width: s.width, points: s.points.length / 4 })));
            get.onerror = () => reject(get.error);
          };
        }),
      `${await page.evaluate(() => window.__eyetagger.store.state.auth.user.id)}:${full}`,
    );
    assert.deepEqual(local, drawn.map((s) => ({ tool: s.tool, width: s.width, points: s.points.length })));
    const onServer = await shell([
      'import json',
      'from backend.api.models import Annotation',
      `print(json.dumps(Annotation.objects.filter(image_id=${full}, annotator__username="annotator").count()))`,
    ]);
    assert.equal(onServer, 0);
  });
});
