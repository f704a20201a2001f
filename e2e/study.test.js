/**
 * A study from the first click to the researcher's tables, in a real Chromium: a participant
 * arrives by a Prolific-style link, consents, reads the instructions, answers the questionnaire,
 * practises with feedback, annotates under the AI-saliency condition (its map over the image,
 * toggled) with a catch image among the images, loses the network mid-phase and gets it back,
 * finishes and gets the completion code; then a researcher downloads the condition's trials and
 * the participants table, and the test checks them against what was done. Every save goes out as a
 * change (PATCH), the guidance's toggles with it, and what was drawn survives a reload.
 */

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT, drawStroke, launchBrowser, openPage, pageMask, signIn, startServer, waitSaved } from './harness.js';

const LINK = '/s/iris-e2e/?PROLIFIC_PID=5f1a2b3c4d5e6f7a8b9c0d1e&STUDY_ID=65f0c0ffee&SESSION_ID=s-42';
const SHOTS = join(ROOT, 'artifacts');

/** Parse a CSV of the exports (RFC 4180, quoted fields with commas and quotes) into objects by header. */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += c;
  }
  if (cell || row.length) rows.push([...row, cell]);
  const [header, ...body] = rows.filter((r) => r.length > 1);
  return body.map((r) => Object.fromEntries(header.map((name, k) => [name, r[k]])));
}

describe('a study, from the link to the tables', { timeout: 600000 }, () => {
  let server;
  let browser;
  let context;
  let page;
  const annotated = []; // {imageId, label, strokes, area} of the annotation phases' images, in order
  const saves = []; // {method, imageId, body} of every save of the participant's work the page sent

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    server = await startServer({ study: true });
    // The worked example with one condition between subjects, the AI's map over the image, toggled:
    // the participant is sure to see it. Part 1's catch image is its second place.
    await server.python(`
from backend.api import services, studyfile
spec = studyfile.read_study(open('docs/examples/iris-saliency-study.yaml').read())
spec['slug'] = 'iris-e2e'
spec['assignment']['between'] = ['ai-saliency']
spec['platform']['study_id'] = '65f0c0ffee'
spec['steps'][1]['min_seconds'] = 2
spec['steps'][4]['catch'] = {'count': None, 'rate': None, 'slots': [2]}
services.study_import(text=studyfile.write_study(spec))
`);
    browser = await launchBrowser();
    page = await openPage(browser);
    context = page.context(); // its own: going offline is this participant's alone
    page.on('request', (request) => {
      const image = /\/api\/participation\/images\/(\d+)\/annotation\/$/.exec(request.url());
      if (image && ['PUT', 'PATCH'].includes(request.method())) {
        saves.push({ method: request.method(), imageId: Number(image[1]), body: JSON.parse(request.postData()) });
      }
    });
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  async function db(code) {
    const out = await server.python(`import json\nfrom backend.api.models import *\n${code}`);
    return JSON.parse(out.trim().split('\n').pop()); // the shell may print a line of its own first
  }

  const state = () => page.evaluate(() => {
    const s = window.__eyetagger.store.state;
    return { kind: s.study.state && s.study.state.current && s.study.state.current.kind, draft: s.annotation.draft && s.annotation.draft.imageId };
  });

  /** Wait for the next image of the step to be open (another than `previous`), drawn by the canvas. */
  async function nextImage(previous) {
    await page.waitForFunction(
      (prev) => {
        const s = window.__eyetagger.store.state.annotation;
        return s.draft && s.draft.imageId !== prev && window.__eyetagger.canvas && window.__eyetagger.canvas.mask();
      },
      previous,
      { timeout: 30000 },
    );
    return (await state()).draft;
  }

  /** Draw on the open image, answer, and keep what was drawn (to check against the server). */
  async function annotate(k, label) {
    const imageId = (await state()).draft;
    await drawStroke(page, [[90 + 10 * k, 80], [150, 110 + 5 * k], [210, 100]]);
    await page.keyboard.press(label === 'real' ? '1' : '2');
    const strokes = await page.evaluate(() => JSON.parse(JSON.stringify(window.__eyetagger.store.state.annotation.strokes)));
    return { imageId, label, strokes, area: (await pageMask(page)).area };
  }

  it('enrols by a Prolific link as a pseudonymous participant, with the service worker in control', async () => {
    await page.goto(`${server.url}${LINK}`);
    await page.waitForSelector('[data-testid=consent-text]');
    await page.waitForFunction(() => navigator.serviceWorker && navigator.serviceWorker.controller, null, { timeout: 30000 });
    const participant = await db(`p = Participant.objects.get(); print(json.dumps([p.pseudonym, p.platform_ids, p.condition.slug]))`);
    assert.match(participant[0], /^P-[A-Z0-9]{8}$/);
    assert.deepEqual(participant[1], { participant: '5f1a2b3c4d5e6f7a8b9c0d1e', study: '65f0c0ffee', session: 's-42' });
    assert.equal(participant[2], 'ai-saliency');
    assert.match(await page.textContent('[data-testid=consent-text]'), /Taking part is voluntary/);
    await page.screenshot({ path: join(SHOTS, 'study-consent.png') });
  });

  it('consents, reads the instructions with their example and answers the questionnaire', async () => {
    assert.equal(await page.isDisabled('[data-testid=consent-agree]'), true); // not before ticking
    await page.check('[data-testid=consent-read]');
    await page.click('[data-testid=consent-agree]');
    // The example image is the study's own, served to the participant like the images they annotate.
    await page.waitForFunction(() => {
      const img = document.querySelector('[data-testid=instructions-text] img');
      return img && img.complete && img.naturalWidth > 0;
    });
    await page.waitForSelector('[data-testid=continue]:not([disabled])', { timeout: 10000 });
    await page.screenshot({ path: join(SHOTS, 'study-instructions.png') });
    await page.keyboard.press('Enter'); // the keyboard goes on as well as the button
    await page.waitForSelector('[data-testid=question-age]');
    await page.click('[data-testid=continue]');
    await page.waitForSelector('.study-field__problem');
    assert.match(await page.textContent('[data-testid=question-age]'), /Please answer: Your age/);
    await page.click('[data-testid=question-age] label:nth-child(2)');
    await page.click('[data-testid=question-experience] label:nth-child(3)');
    await page.fill('[data-testid=question-years] input', '4');
    await page.screenshot({ path: join(SHOTS, 'study-questionnaire.png'), fullPage: true });
    await page.click('[data-testid=continue]');
    await page.waitForSelector('[data-testid=images-step]');
    const stored = await db(`p = Participant.objects.get(); print(json.dumps([p.consent_version, p.consented_at is not None, p.answers]))`);
    assert.deepEqual(stored, ['2027-01', true, { age: '25-34', experience: 'often', years: 4 }]);
  });

  it('practises with feedback: the known answer and the reference mask over the participant\'s own', async () => {
    let previous = null;
    for (let k = 0; k < 2; k++) {
      previous = await nextImage(previous);
      assert.match(await page.textContent('[data-testid=position]'), new RegExp(`Practice image ${k + 1} of 2`));
      await annotate(k, 'real');
      await page.click('[data-testid=next]');
      await page.waitForSelector('[data-testid=feedback-answer]');
      assert.match(await page.textContent('[data-testid=feedback-answer]'), /The answer is (real|fake)\. You answered real\./);
      await page.waitForSelector('.study-feedback__reference');
      if (k === 0) await page.screenshot({ path: join(SHOTS, 'study-practice-feedback.png') });
      await page.keyboard.press('Enter');
      await page.waitForSelector('[data-testid=feedback]', { state: 'detached' });
    }
    const practice = await db(`print(json.dumps(list(Trial.objects.filter(kind='practice').values_list('status', 'correct'))))`);
    assert.equal(practice.length, 2);
    assert.ok(practice.every(([status, correct]) => status === 'submitted' && correct !== null));
    // Each save carried only what changed (the stroke, the answer and the submission, coalesced or not).
    assert.ok(saves.length >= 2, `saves: ${JSON.stringify(saves.map((x) => x.method))}`);
    assert.deepEqual([...new Set(saves.map((x) => x.method))], ['PATCH']);
    assert.ok(saves.every((x) => !('strokes' in x.body) && Array.isArray(x.body.append)));
    assert.deepEqual(saves.filter((x) => x.body.status === 'submitted').length, 2);
  });

  it('annotates under the AI-saliency condition: the map over the image, hidden and shown again, every toggle kept', async () => {
    let previous = await nextImage(null);
    assert.match(await page.textContent('[data-testid=position]'), /Image 1 of 5/);
    await page.waitForSelector('[data-testid=guidance-over]');
    await page.waitForTimeout(800); // the map's file arrives
    await page.screenshot({ path: join(SHOTS, 'study-annotate-ai-saliency.png') });
    await page.keyboard.press('g');
    await page.waitForSelector('[data-testid=guidance-over]', { state: 'detached' });
    await page.keyboard.press('g');
    await page.waitForSelector('[data-testid=guidance-over]');
    annotated.push(await annotate(0, 'fake'));
    await waitSaved(page);
    const sent = saves.filter((x) => x.imageId === previous);
    assert.deepEqual([...new Set(sent.map((x) => x.method))], ['PATCH']);
    assert.ok(sent.some((x) => x.body.guidance_events && x.body.guidance_events.length === 2), 'the toggles went with a change');
    // A reload (or a crash) loses nothing: the drawing, its answer and the toggles come back from the server.
    await page.reload();
    assert.equal(await nextImage(null), previous);
    const reloaded = await page.evaluate(() => {
      const s = window.__eyetagger.store.state.annotation;
      return { strokes: JSON.parse(JSON.stringify(s.strokes)), label: s.draft.label, events: s.draft.guidanceEvents };
    });
    assert.deepEqual(reloaded.strokes, annotated[0].strokes);
    assert.equal(reloaded.label, 'fake');
    assert.deepEqual(reloaded.events.map((e) => e.shown), [false, true]);
    assert.equal((await pageMask(page)).area, annotated[0].area);
    await page.click('[data-testid=next]');
    previous = await nextImage(previous); // the second place: the catch image, as any other to the participant
    annotated.push(await annotate(1, 'real'));
    await page.click('[data-testid=next]');
    await nextImage(previous);
    await waitSaved(page);
    const trials = await db(`print(json.dumps(list(Trial.objects.filter(step__position=4).order_by('position').values_list('position', 'kind', 'status', 'guidance_events'))))`);
    assert.deepEqual(trials[0].slice(0, 3), [1, 'main', 'submitted']);
    assert.deepEqual(trials[0][3].map((e) => e.shown), [false, true]);
    assert.deepEqual(trials[1].slice(0, 3), [2, 'catch', 'submitted']);
  });

  it('goes on offline mid-phase, and everything done offline reaches the server once the network is back', async () => {
    await context.setOffline(true);
    let previous = null;
    for (let k = 2; k < 4; k++) {
      previous = (await state()).draft;
      annotated.push(await annotate(k, k % 2 ? 'real' : 'fake'));
      await page.click('[data-testid=next]');
      await nextImage(previous);
    }
    await page.waitForFunction(() => window.__eyetagger.store.state.sync.waiting === 2);
    // The images handed out ahead were fetched for the service worker: the page shows them offline.
    await page.waitForFunction(() => {
      const img = document.querySelector('[data-testid=stage] img');
      return img && img.complete && img.naturalWidth > 0;
    });
    await page.waitForSelector('[data-testid=guidance-over]');
    assert.match(await page.textContent('.save-state'), /Offline — 2 images not sent yet/);
    await page.screenshot({ path: join(SHOTS, 'study-offline.png') });
    const before = await db(`print(json.dumps(Trial.objects.filter(step__position=4, status='submitted').count()))`);
    assert.equal(before, 2, 'nothing done offline reached the server');
    await context.setOffline(false);
    await waitSaved(page, 60000);
    // Read through stored_strokes: strokes saved by changes are kept in chunks, not in the row.
    const saved = await db(`from backend.api.selectors.strokes import stored_strokes\nprint(json.dumps([[a.image_id, a.label, stored_strokes(a), a.status, a.mask_area] for a in Annotation.objects.filter(trials__step__position=4).order_by('trials__position')]))`);
    assert.equal(saved.length, 4);
    for (const [k, done] of annotated.entries()) {
      assert.deepEqual(saved[k].slice(0, 4), [done.imageId, done.label, done.strokes, 'submitted']);
      assert.equal(saved[k][4], done.area, 'the mask the page showed is the mask stored');
    }
    assert.deepEqual([...new Set(saves.map((x) => x.method))], ['PATCH'], 'what waited offline went as changes too');
  });

  it('finishes both parts, then gets the completion code and the way back to the platform', async () => {
    for (let k = 4; k < 20; k++) {
      await page.waitForFunction(() => {
        const s = window.__eyetagger.store.state;
        const canvas = window.__eyetagger.canvas;
        const mask = canvas && canvas.mask();
        const ready = s.annotation.draft && mask && mask.width === s.annotation.draft.image.width && !window.__eyetagger.store.state.navigation.loading;
        return (s.study.state.current && s.study.state.current.kind === 'finish') || ready;
      }, null, { timeout: 30000 });
      const now = await state();
      if (now.kind === 'finish') break;
      annotated.push(await annotate(k, 'fake'));
      await page.click('[data-testid=next]');
      try {
        await page.waitForFunction((prev) => {
          const s = window.__eyetagger.store.state;
          return !s.annotation.draft || s.annotation.draft.imageId !== prev || s.study.state.current.kind === 'finish';
        }, now.draft, { timeout: 30000 });
      } catch (error) {
        await page.screenshot({ path: join(SHOTS, 'study-stuck.png') });
        const what = await page.evaluate(() => {
          const s = window.__eyetagger.store.state;
          return { notice: s.annotation.notice, area: s.annotation.area, draft: s.annotation.draft, sync: s.sync, study: s.study };
        });
        throw new Error(`${error.message}\n${JSON.stringify(what).slice(0, 3000)}`);
      }
    }
    await page.waitForSelector('[data-testid=finish-button]:not([disabled])', { timeout: 30000 });
    assert.equal(await page.$('[data-testid=completion-code]'), null); // no code before finishing
    await page.click('[data-testid=finish-button]');
    const code = (await page.textContent('[data-testid=completion-code]', { timeout: 10000 })).trim();
    assert.match(code, /^[2-9A-HJKMNP-TV-Z]{10}$/);
    assert.equal(await page.getAttribute('[data-testid=redirect]', 'href'), `https://app.prolific.com/submissions/complete?cc=${code}`);
    await page.screenshot({ path: join(SHOTS, 'study-finish.png') });
    const stored = await db(`p = Participant.objects.get(); print(json.dumps([p.status, p.completion_code, p.catch_judged]))`);
    assert.deepEqual(stored, ['completed', code, 2]);
  });

  it('lets a researcher download the condition\'s trials and the participants table, which hold what was done', async () => {
    const researcher = await (await browser.newContext()).newPage();
    await signIn(researcher, server.url, 'researcher');
    // From the datasets page to the study's dashboard, whose links the downloads take.
    await researcher.click('[data-testid=study-iris-e2e]');
    await researcher.waitForSelector('[data-testid=download-participants]');
    assert.match(await researcher.textContent('.figures'), /1\s*completed/);
    await researcher.screenshot({ path: join(SHOTS, 'study-dashboard.png'), fullPage: true });
    const studyId = await db(`print(json.dumps(Study.objects.get(slug='iris-e2e').pk))`);
    assert.equal(await researcher.getAttribute('[data-testid=download-participants]', 'href'), `/api/studies/${studyId}/participants/`);
    const download = (path) => researcher.evaluate(async (p) => (await fetch(p)).text(), path);
    // The catch images (Part 1's second place, and one drawn in Part 2) are exported apart.
    const catches = parseCsv(await download(`/api/studies/${studyId}/export/?kind=catch`));
    assert.equal(catches.length, 2);
    assert.equal(Number(catches[0].image_id), annotated[1].imageId);
    assert.ok(catches.every((row) => ['true', 'false'].includes(row.catch_passed) && row.kind === 'catch'));
    const catchIds = new Set(catches.map((row) => Number(row.image_id)));
    const main = annotated.filter((d) => !catchIds.has(d.imageId));
    const trials = parseCsv(await download(`/api/studies/${studyId}/export/?condition=ai-saliency`));
    assert.equal(trials.length, 8); // two parts of four images
    assert.ok(trials.every((row) => row.condition === 'ai-saliency' && row.guidance_ai_saliency === 'true'));
    assert.ok(trials.every((row) => row.platform_participant === '5f1a2b3c4d5e6f7a8b9c0d1e'));
    assert.deepEqual(trials.map((row) => [Number(row.image_id), row.label, row.trial_status]), main.map((d) => [d.imageId, d.label, 'submitted']));
    assert.deepEqual(trials.map((row) => row.phase), [...Array(4).fill('Part 1'), ...Array(4).fill('Part 2')]);
    assert.equal(trials[0].guidance_toggles, '2');
    assert.deepEqual(JSON.parse(trials[0].guidance_events).map((e) => e.shown), [false, true]);
    assert.deepEqual(trials.map((row) => Number(row.mask_area)), main.map((d) => d.area));
    const none = parseCsv(await download(`/api/studies/${studyId}/export/?condition=no-help`));
    assert.equal(none.length, 0);
    const [participant] = parseCsv(await download(`/api/studies/${studyId}/participants/`));
    assert.equal(participant.platform_participant, '5f1a2b3c4d5e6f7a8b9c0d1e');
    assert.equal(participant.status, 'completed');
    assert.equal(participant.condition, 'ai-saliency');
    assert.equal(participant.consent_version, '2027-01');
    assert.equal(participant.answer_age, '25-34');
    assert.equal(participant.answer_years, '4');
    assert.equal(participant.completion_code, await page.textContent('[data-testid=completion-code]'));
    assert.equal(participant.catch_judged, '2');
    assert.equal(participant.images_done, String(2 + annotated.length));
    // Saliency per condition on the dashboard: the figures, and an image's mean map as the API draws it.
    await researcher.click('[data-testid=load-saliency]');
    await researcher.waitForSelector('[data-testid=saliency-conditions]');
    assert.match(await researcher.textContent('[data-testid=saliency-conditions] tbody'), /ai-saliency\s*8\s*0/);
    await researcher.waitForFunction(() => {
      const map = document.querySelector('[data-testid=saliency-map]');
      return map && map.complete && map.naturalWidth > 0;
    });
    assert.match(await researcher.getAttribute('[data-testid=saliency-map]', 'src'), new RegExp(`^/api/studies/${studyId}/images/\\d+/saliency\\.png\\?condition=ai-saliency$`));
    await researcher.screenshot({ path: join(SHOTS, 'study-saliency.png'), fullPage: true });
  });
});
