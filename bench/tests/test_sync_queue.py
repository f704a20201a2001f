"""bench/sync_queue.py keeps in step with the app's sync queue: the same scenarios, the same requests and outcome.

Each scenario runs twice against the same fake server (``Server``, real PUT semantics: versions,
repeats answered 200, 409 with the stored annotation): through the Python copy, and through the
app's own module in Node (sync_queue_driver.mjs), on fake clocks. Both must send the same
requests at the same moments (image, version, content) and end in the same state. When this
fails, the app's queue changed: change bench/sync_queue.py with it (or the other way round).
"""

import asyncio
import json
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from bench.load_annotators import Answer
from bench.sync_queue import MIRRORS, Draft, SyncQueue

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("sync_queue_driver.mjs")
API_CLIENT = "src/api/client.js"  # the app's ApiError: which failures it retries
STROKES = [{"tool": "brush", "width": 4.0, "points": [[1.0, 2.0, 0.0, 0.5]]}]
STARTED_AT = "2026-01-01T00:00:00Z"

# What the server does with each request in turn (then "ok"): "ok", "503", "429", "400", "network"
# (no answer, nothing stored), "lost" (stored, the answer lost); "other" (another device saves
# first); "change" (a local edit made while the request is out).
SCENARIOS = {
    "a change is saved and acknowledged": {
        "changes": [{"key": 1, "fields": {"text": "a"}}],
        "script": ["ok"],
    },
    "a change made while its save is out is sent after it, on the new version": {
        "changes": [{"key": 1, "fields": {"text": "a"}}],
        "script": [{"answer": "ok", "change": {"key": 1, "fields": {"text": "ab"}}}, "ok"],
    },
    "no answer, 503 and 429 are retried after a back-off that doubles up to its cap": {
        "changes": [{"key": 1, "fields": {"text": "a"}}],
        "script": ["network", "503", "429", "503", "503", "503", "503", "ok"],
    },
    "a save whose answer was lost is recognised by its 409 and built on": {
        "changes": [{"key": 1, "fields": {"text": "a"}}],
        "script": [{"answer": "lost", "change": {"key": 1, "fields": {"text": "ab"}}}, "ok", "ok"],
    },
    "a save whose answer was lost, sent again unchanged, is acknowledged by its 409": {
        "changes": [{"key": 1, "fields": {"text": "a"}}],
        "script": ["lost", "ok"],
    },
    "another device's save first is a real conflict: the image waits, never overwritten": {
        "changes": [{"key": 1, "fields": {"text": "a"}}],
        "script": [{"answer": "ok", "other": {"text": "theirs"}}],
    },
    "a document the server refuses is not sent again unchanged": {
        "changes": [{"key": 1, "fields": {"text": "a"}}],
        "script": ["400"],
    },
    "while one image backs off the next is sent, and an answer sends every waiting image at once": {
        "changes": [{"key": 1, "fields": {"text": "a"}}, {"key": 2, "fields": {"text": "b"}}],
        "script": ["503", "ok", "ok"],
    },
    "a submission is sent as one": {
        "changes": [{"key": 1, "fields": {"text": "a", "label": "real", "status": "submitted"}}],
        "script": ["ok"],
    },
}


class Server:
    """One fake server: each image's stored annotation, and what to do with each request in turn."""

    def __init__(self, script: list):
        self.script = [step if isinstance(step, dict) else {"answer": step} for step in script]
        self.stored: dict[int, dict] = {}

    def put(self, key: int, body: dict) -> dict:
        """Return the answer to PUT /api/images/{key}/annotation/: {status, body, changes}."""
        step = self.script.pop(0) if self.script else {"answer": "ok"}
        changes = [step["change"]] if "change" in step else []
        current = self.stored.get(key)
        if "other" in step:
            current = self.stored[key] = {**self._empty(key), **(current or {}), **step["other"]}
            current["version"] += 1
        failure = {"network": 0, "503": 503, "429": 429, "400": 400}.get(step["answer"])
        if failure is not None:
            error = {"code": "error", "detail": "scripted"} if failure else None
            return {"status": failure, "body": error, "changes": changes}
        content = {name: body[name] for name in ("strokes", "label", "text", "status")}
        stored = current or self._empty(key)
        if current is not None and {name: current[name] for name in content} == content:
            answer = {"status": 200, "body": current}
        elif stored["version"] != body["version"]:
            conflict = {"code": "version_conflict", "detail": "changed elsewhere", "current": current}
            answer = {"status": 409, "body": conflict}
        else:
            self.stored[key] = {**content, "version": stored["version"] + 1}
            answer = {"status": 200, "body": self.stored[key]}
        if step["answer"] == "lost":
            answer = {"status": 0, "body": None}
        return {**answer, "changes": changes}

    @staticmethod
    def _empty(key: int) -> dict:
        return {"strokes": STROKES, "label": None, "text": "", "status": "draft", "version": 0}


def run_in_node(scenario: dict) -> dict:
    """Run the scenario through the app's SyncQueue; return its requests and final state."""
    server = Server(scenario["script"])
    argument = json.dumps({**scenario, "strokes": STROKES, "started_at": STARTED_AT})
    node = subprocess.Popen(
        ["node", str(DRIVER), str(ROOT / MIRRORS), str(ROOT / API_CLIENT), argument],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    requests = []
    try:
        for line in node.stdout:
            message = json.loads(line)
            if "done" in message:
                final = {int(key): value for key, value in message["done"].items()}
                return {"requests": requests, "final": final}
            request = message["request"]
            requests.append(_request(request["t"], request["key"], request["body"]))
            node.stdin.write(json.dumps(server.put(request["key"], request["body"])) + "\n")
            node.stdin.flush()
        raise AssertionError(f"the driver stopped early (exit {node.wait(timeout=10)})")
    finally:
        node.kill()
        node.wait(timeout=10)


class _Clock:
    """The simulation's recorder, on a clock that moves only when told."""

    def __init__(self):
        self.t = 0.0
        self.counts = Counter()
        self.errors: list[str] = []

    def now(self) -> float:
        return self.t

    def error(self, message: str) -> None:
        self.errors.append(message)

    def retried(self, kind: str, first_failure: float) -> None:
        pass


class _Half:
    """A random source whose every draw is 0.5, as the driver's."""

    def random(self) -> float:
        return 0.5


def run_in_python(scenario: dict) -> dict:
    """Run the scenario through bench/sync_queue.py; return its requests and final state."""
    server, clock, requests, revisions = Server(scenario["script"]), _Clock(), [], {}
    local: dict[int, dict] = {}

    def change(key: int, fields: dict) -> None:
        revisions[key] = revisions.get(key, 0) + 1
        document = local[key] = {**local.get(key, {"label": None, "text": "", "status": "draft"}), **fields}
        label, text, status = document["label"], document["text"], document["status"]
        queue.change(Draft(key, revisions[key], tuple(STROKES), label, text, status, STARTED_AT, 0), delay=0)

    class Client:
        async def attempt(self, kind, method, path, body=None):
            key = int(path.split("/")[3])
            requests.append(_request(round(clock.now() * 1000), key, body))
            answer = server.put(key, body)
            for edit in answer["changes"]:
                change(edit["key"], edit["fields"])
            status = answer["status"] or "ServerDisconnectedError"
            return Answer(kind, clock.now(), clock.now(), status, answer["body"])

    queue = SyncQueue(Client(), clock, _Half())

    async def drive():
        for edit in scenario["changes"]:
            change(edit["key"], edit["fields"])
        while True:
            key, wait = queue.next_due()
            if key is not None:
                await queue.send(key)
            elif any(k not in queue.refused for k in queue.order):
                clock.t += wait
            else:
                return

    asyncio.run(drive())
    final = {}
    for key in revisions:
        state = "blocked" if key in queue.refused else "waiting" if key in queue.order else "stored"
        final[key] = {"version": queue.base.get(key, 0), "state": state}
    return {"requests": requests, "final": final}


def _request(t_ms: int, key: int, body: dict) -> tuple:
    return t_ms, key, body["version"], body["text"], body["label"], body["status"]


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js to run the app's module")
@pytest.mark.parametrize("name", SCENARIOS)
def test_the_copy_sends_what_the_apps_sync_queue_sends(name):
    assert (ROOT / MIRRORS).exists(), (
        f"{MIRRORS} moved: point MIRRORS (bench/sync_queue.py) at the app's sync queue, and "
        "bench/tests/sync_queue_driver.mjs at how the app now builds and feeds it"
    )
    scenario = SCENARIOS[name]
    app, copy = run_in_node(scenario), run_in_python(scenario)
    assert copy == app
    assert app["requests"], "the scenario sent nothing: it proves nothing"


def test_the_scenarios_meet_retries_lost_answers_and_conflicts():
    # What the comparison is worth: the app's queue really backs off, builds on a lost answer, stops on a conflict.
    runs = {name: run_in_python(scenario) for name, scenario in SCENARIOS.items()}
    retried = runs["no answer, 503 and 429 are retried after a back-off that doubles up to its cap"]
    assert [t for t, *_ in retried["requests"]] == [0, 750, 2250, 5250, 11250, 23250, 45750, 68250]
    lost = runs["a save whose answer was lost is recognised by its 409 and built on"]
    assert [(version, text) for _, _, version, text, *_ in lost["requests"]] == [(0, "a"), (0, "ab"), (1, "ab")]
    assert lost["final"] == {1: {"version": 2, "state": "stored"}}
    conflict = runs["another device's save first is a real conflict: the image waits, never overwritten"]
    assert conflict["final"] == {1: {"version": 0, "state": "blocked"}}
