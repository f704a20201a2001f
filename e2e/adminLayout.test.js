/**
 * Django admin's lists on a 1366 px screen, in Debian's Chromium: the Datasets and Users lists
 * show every column without a horizontal scroll bar (they were cut off behind one), with long
 * names, long e-mail addresses and the filters beside them.
 */

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ACCOUNTS, launchBrowser, openPage, startServer } from './harness.js';

describe("admin's lists at 1366 px", { timeout: 180000 }, () => {
  let server;
  let browser;
  let page;

  before(async () => {
    server = await startServer();
    await server.python(`
from backend.api import services
from backend.api.models import Dataset, Role
for i in range(3):
    services.user_create(username=f"annotator_with_a_long_name_{i}", password="x-pass-123456", role=Role.ANNOTATOR,
                         email=f"annotator{i}@a-long-university-domain.example.org")
from datetime import datetime, timezone
# The widest date Django writes: a long month and a two-digit evening hour (the column once fitted by day only).
Dataset.objects.update(name="Iris PAD LivDet 2017 Warsaw subset, contact lenses", annotators_per_image=3,
                       updated_at=datetime(2026, 9, 28, 22, 48, tzinfo=timezone.utc))
`);
    browser = await launchBrowser();
    page = await openPage(browser, { viewport: { width: 1366, height: 768 } });
    await page.goto(`${server.url}/api/admin/login/`);
    await page.fill('#id_username', 'admin');
    await page.fill('#id_password', ACCOUNTS.admin);
    await Promise.all([page.waitForNavigation(), page.click('input[type=submit]')]);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  for (const [name, path] of [['Datasets', '/api/admin/api/dataset/'], ['Users', '/api/admin/auth/user/']]) {
    it(`shows every column of ${name} without scrolling`, async () => {
      await page.goto(`${server.url}${path}`);
      const layout = await page.evaluate(() => {
        const results = document.querySelector('#changelist .results');
        const right = results.getBoundingClientRect().right;
        return {
          hidden: results.scrollWidth - results.clientWidth,
          pageScroll: document.documentElement.scrollWidth - window.innerWidth,
          columnsPast: [...document.querySelectorAll('#result_list thead th')]
            .filter((th) => th.getBoundingClientRect().right > right + 1)
            .map((th) => th.textContent.trim()),
          filters: Boolean(document.querySelector('#changelist-filter')),
        };
      });
      assert.deepEqual(layout, { hidden: 0, pageScroll: 0, columnsPast: [], filters: true });
    });
  }
});
