/**
 * Drive the annotation app's own SyncQueue through one scenario, for bench/tests/test_sync_queue.py.
 *
 * node sync_queue_driver.mjs SYNC_QUEUE_MODULE API_CLIENT_MODULE SCENARIO_JSON
 *
 * Time is a fake clock that jumps to the queue's next timer; the server is the test's: each PUT
 * and PATCH is written to standard output as a JSON line ({"request": {t, key, method, body}})
 * and its answer read from standard input ({status, body, changes}: changes are local edits made
 * while it was out). The queue is built as src/services/sync.js builds it for an annotator (with
 * a change function), and an image in `opened` starts from the server's annotation as the app
 * opens it (sync.opened: the queue knows it). The last line is {"done": {key: {version, state}}}.
 */
import readline from 'node:readline';
import { pathToFileURL } from 'node:url';

const [queueModule, clientModule, scenarioJson] = process.argv.slice(2);
const { SyncQueue } = await import(pathToFileURL(queueModule).href);
const { ApiError } = await import(pathToFileURL(clientModule).href);
const scenario = JSON.parse(scenarioJson);
const answers = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const say = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);

let now = 0;
Date.now = () => now;
const pending = [];
const timers = {
  setTimeout(fn, ms) {
    const timer = { at: now + ms, fn };
    pending.push(timer);
    return timer;
  },
  clearTimeout(timer) {
    const index = pending.indexOf(timer);
    if (index >= 0) pending.splice(index, 1);
  },
};

const drafts = new Map();
let queue;

/** A draft as the app keeps it, at local revision 0: from a document (and its version) or a new one. */
function draftOf(key, doc = { strokes: scenario.strokes, label: null, text: '', status: 'draft', version: 0 }) {
  const { strokes, label, text, status, version } = doc;
  return {
    key, imageId: key, strokes, label, text, status,
    baseVersion: version, localRev: 0, syncedRev: 0, startedAt: scenario.started_at, activeMs: 0, conflict: null,
  };
}

/** An edit of the local document, as the store makes it: a new local revision, handed to the queue at once. */
function change(key, fields) {
  const draft = drafts.get(key) || draftOf(key);
  const changed = { ...draft, ...fields, localRev: draft.localRev + 1 };
  drafts.set(key, changed);
  queue.enqueue(changed, 0);
}

/** Send one request to the test's server; return its answer's body, or throw as src/api/client.js does. */
async function send(method, imageId, json) {
  say({ request: { t: now, key: imageId, method, body: JSON.parse(json) } });
  const answer = JSON.parse((await answers.next()).value);
  for (const edit of answer.changes) change(edit.key, edit.fields);
  if (answer.status === 200) return answer.body;
  throw new ApiError(answer.status, answer.body);
}

queue = new SyncQueue({
  save: (imageId, json) => send('PUT', imageId, json),
  change: (imageId, json) => send('PATCH', imageId, json),
  timers,
  random: () => 0.5,
});
// What the store does with the queue's news: keep the version and revision the server has.
queue.listen({
  saved: async (key, { version, rev }) => {
    const draft = drafts.get(key);
    drafts.set(key, { ...draft, baseVersion: version, syncedRev: rev === null ? draft.syncedRev : Math.max(draft.syncedRev, rev) });
  },
  conflict: async (key, current) => {
    drafts.set(key, { ...drafts.get(key), conflict: current });
  },
});

async function settle() {
  do await new Promise((resolve) => setImmediate(resolve));
  while (queue.running);
}

for (const [key, doc] of Object.entries(scenario.opened || {})) {
  const draft = draftOf(Number(key), doc);
  drafts.set(draft.key, draft);
  queue.known(draft);
}
for (const edit of scenario.changes) change(edit.key, edit.fields);
for (;;) {
  await settle();
  if (!pending.length) break;
  pending.sort((a, b) => a.at - b.at);
  const timer = pending.shift();
  now = Math.max(now, timer.at);
  timer.fn();
}
const final = {};
for (const [key, draft] of drafts) {
  const problem = queue.problems.get(key);
  const state = problem && problem.kind !== 'offline' ? 'blocked' : draft.localRev > draft.syncedRev ? 'waiting' : 'stored';
  final[key] = { version: draft.baseVersion, state };
}
say({ done: final });
process.exit(0);
