"""bench/sync_queue.py keeps in step with the app's sync queue: the same scenarios, the same requests and outcome.

Each scenario runs twice against the same fake server (``Server``, the real server's semantics:
PUT and PATCH apply to their version only, a repeated PUT and a retried op are answered 200, a
409 carries the stored annotation): through the Python copy, and through the app's own module
in Node (sync_queue_driver.mjs), on fake clocks. Both must send the same requests at the same
moments (image, method, and the whole body: version, op, strokes removed and appended, fields)
and end in the same state. When this fails, the app's queue changed: change bench/sync_queue.py
with it (or the other way round).
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
A = {"tool": "brush", "width": 8.0, "points": [[10.0, 20.0, 0.0, 0.5], [12.5, 21.0, 16.0, 0.6]]}
B = {"tool": "eraser", "width": 6.0, "points": [[11.0, 20.0, 900.0, 0.5]]}
C = {"tool": "lasso", "width": 1.0, "points": [[1.0, 1.0, 2e3, 0.5], [9.0, 1.0, 2016.0, 0.5], [5.0, 7.0, 2032.0, 0.5]]}
STORED = {"strokes": [A, B], "label": "real", "text": "seen", "status": "draft", "version": 3}

# What the server does with each request in turn (then "ok"): "ok", "503", "429", "400", "network"
# (no answer, nothing stored), "lost" (stored, the answer lost); "other" (another device saves
# first); "change" (a local edit made while the request is out: fields of the document, strokes
# too). "opened": images opened from the server's annotation (null: none stored yet), whose
# changes the app sends as changes (PATCH); the others' drafts are not known to come from the
# server, so they are sent whole (PUT), as after a reload.
EMPTY = {"strokes": [], "label": None, "text": "", "status": "draft", "version": 0}
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
    # Changes (PATCH), on images opened from the server.
    "strokes appended and removed from the end go as changes from the acknowledged version": {
        "opened": {1: None},
        "changes": [{"key": 1, "fields": {"strokes": [A, B]}}],
        "script": [
            {"answer": "ok", "change": {"key": 1, "fields": {"strokes": [A, C]}}},
            {"answer": "ok", "change": {"key": 1, "fields": {"strokes": [A], "label": "fake"}}},
            {"answer": "ok", "change": {"key": 1, "fields": {"text": "why", "status": "submitted"}}},
            "ok",
        ],
    },
    "an image opened with a stored version is changed from it: a clear removes every stroke": {
        "opened": {1: STORED},
        "changes": [{"key": 1, "fields": {"strokes": []}}, {"key": 1, "fields": {"strokes": [C], "text": ""}}],
        "script": ["ok"],
    },
    "a change whose answer was lost is sent again with the same op, and not applied twice": {
        "opened": {1: STORED},
        "changes": [{"key": 1, "fields": {"strokes": [A, B, C]}}],
        "script": ["lost", "network", "ok", "ok"],
    },
    "the first change of an image, its answer lost, is sent again with the same op": {
        "opened": {1: None},
        "changes": [{"key": 1, "fields": {"strokes": [A]}}],
        "script": ["lost", "ok"],
    },
    "a change whose answer was lost, changed since, gets a 409 with its own content and goes on from it": {
        "opened": {1: STORED},
        "changes": [{"key": 1, "fields": {"strokes": [A, B, C]}}],
        "script": [{"answer": "lost", "change": {"key": 1, "fields": {"strokes": [A, B, C, A], "text": "x"}}}, "ok"],
    },
    "a change cut by no answer, 503 and 429 is retried with the same op after the same back-off": {
        "opened": {1: None},
        "changes": [{"key": 1, "fields": {"strokes": [A]}}],
        "script": ["network", "503", {"answer": "429", "change": {"key": 1, "fields": {"strokes": [A, C]}}}, "ok"],
    },
    "a change the server refuses (400) is sent again as the whole document": {
        "opened": {1: STORED},
        "changes": [{"key": 1, "fields": {"strokes": [A]}}],
        "script": ["400", "ok"],
    },
    "another device's save before a change is a real conflict: the image waits, never overwritten": {
        "opened": {1: STORED},
        "changes": [{"key": 1, "fields": {"strokes": [A, B, C]}}],
        "script": [{"answer": "ok", "other": {"text": "theirs"}}],
    },
    "changes of two images, one backing off: the other goes first, and both as changes": {
        "opened": {1: None, 2: STORED},
        "changes": [{"key": 1, "fields": {"strokes": [A]}}, {"key": 2, "fields": {"strokes": [A]}}],
        "script": ["503", "ok", "ok"],
    },
}


class Server:
    """One fake server: each image's stored annotation, and what to do with each request in turn."""

    def __init__(self, script: list, opened: dict | None = None):
        self.script = [step if isinstance(step, dict) else {"answer": step} for step in script]
        self.stored: dict[int, dict] = {key: {**doc, "op": None} for key, doc in (opened or {}).items() if doc}

    def answer(self, key: int, method: str, body: dict) -> dict:
        """Return the answer to a PUT or PATCH of /api/images/{key}/annotation/: {status, body, changes}."""
        step = self.script.pop(0) if self.script else {"answer": "ok"}
        changes = [step["change"]] if "change" in step else []
        current = self.stored.get(key)
        if "other" in step:
            current = self.stored[key] = {**EMPTY, **(current or {}), **step["other"], "op": None}
            current["version"] += 1
        failure = {"network": 0, "503": 503, "429": 429, "400": 400}.get(step["answer"])
        if failure is not None:
            error = {"code": "error", "detail": "scripted"} if failure else None
            return {"status": failure, "body": error, "changes": changes}
        answer = self._put(key, current, body) if method == "PUT" else self._patch(key, current, body)
        if step["answer"] == "lost":
            answer = {"status": 0, "body": None}
        return {**answer, "changes": changes}

    def _put(self, key: int, current: dict | None, body: dict) -> dict:
        content = {name: body[name] for name in ("strokes", "label", "text", "status")}
        stored = current or EMPTY
        if current is not None and {name: current[name] for name in content} == content:
            return {"status": 200, "body": _shown(current)}
        if stored["version"] != body["version"]:
            return self._conflict(current)
        self.stored[key] = {**content, "version": stored["version"] + 1, "op": None}
        return {"status": 200, "body": _shown(self.stored[key])}

    def _patch(self, key: int, current: dict | None, body: dict) -> dict:
        """As annotation_change: applied to its version only; a retry of the op that made the stored one is a 200."""
        if current is None and body["version"] == 0 and body["remove"] == 0:
            current = EMPTY
        elif current is None or current["version"] != body["version"]:
            if current is not None and body["op"] == current["op"]:
                return {"status": 200, "body": _summary(current)}
            return self._conflict(current)
        if body["remove"] > len(current["strokes"]):
            return {"status": 400, "body": {"code": "remove_too_many", "detail": "scripted"}}
        fields = {name: body.get(name, current[name]) for name in ("label", "text", "status")}
        if not body["remove"] and not body["append"] and fields == {name: current[name] for name in fields}:
            return {"status": 200, "body": _summary(current)}
        strokes = current["strokes"][: len(current["strokes"]) - body["remove"]] + body["append"]
        self.stored[key] = {"strokes": strokes, **fields, "version": current["version"] + 1, "op": body["op"]}
        return {"status": 200, "body": _summary(self.stored[key])}

    @staticmethod
    def _conflict(current: dict | None) -> dict:
        stored = _shown(current) if current is not None else _shown(EMPTY)
        return {"status": 409, "body": {"code": "version_conflict", "detail": "changed elsewhere", "current": stored}}


def _shown(annotation: dict) -> dict:
    """Return the annotation as the API shows it (the op it last applied is the server's own)."""
    return {name: value for name, value in annotation.items() if name != "op"}


def _summary(annotation: dict) -> dict:
    """Return a change's answer: the annotation without its strokes, with their count."""
    shown = _shown(annotation)
    strokes = shown.pop("strokes")
    return {**shown, "stroke_count": len(strokes)}


def _opened(scenario: dict) -> dict[int, dict]:
    """Return the images the scenario opens from the server: their stored annotation (version 0: none)."""
    return {int(key): doc or EMPTY for key, doc in scenario.get("opened", {}).items()}


def run_in_node(scenario: dict) -> dict:
    """Run the scenario through the app's SyncQueue; return its requests and final state."""
    server = Server(scenario["script"], scenario.get("opened"))
    opened = {str(key): doc for key, doc in _opened(scenario).items()}
    argument = json.dumps({**scenario, "opened": opened, "strokes": STROKES, "started_at": STARTED_AT})
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
            requests.append(_request(request["t"], request["key"], request["method"], request["body"]))
            answer = server.answer(request["key"], request["method"], request["body"])
            node.stdin.write(json.dumps(answer) + "\n")
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

    def retried(self, kind: str, first_failure: float, cause: str = "") -> None:
        pass


class _Half:
    """A random source whose every draw is 0.5, as the driver's."""

    def random(self) -> float:
        return 0.5


def run_in_python(scenario: dict) -> dict:
    """Run the scenario through bench/sync_queue.py; return its requests and final state."""
    server, clock, requests, revisions = Server(scenario["script"], scenario.get("opened")), _Clock(), [], {}
    local: dict[int, dict] = {}

    def change(key: int, fields: dict) -> None:
        revisions[key] = revisions.get(key, 0) + 1
        before = local.get(key, {"strokes": STROKES, "label": None, "text": "", "status": "draft"})
        document = local[key] = {**before, **fields}
        label, text, status = document["label"], document["text"], document["status"]
        draft = Draft(key, revisions[key], tuple(document["strokes"]), label, text, status, STARTED_AT, 0)
        queue.change(draft, delay=0)

    class Client:
        async def attempt(self, kind, method, path, body=None):
            key = int(path.split("/")[3])
            requests.append(_request(round(clock.now() * 1000), key, method, body))
            answer = server.answer(key, method, body)
            for edit in answer["changes"]:
                change(edit["key"], edit["fields"])
            status = answer["status"] or "ServerDisconnectedError"
            return Answer(kind, clock.now(), clock.now(), status, answer["body"])

    queue = SyncQueue(Client(), clock, _Half())
    for key, stored in _opened(scenario).items():
        queue.opened(key, stored)  # as the annotator opens the image: its draft is made from this answer
        local[key] = {name: stored[name] for name in ("strokes", "label", "text", "status")}

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


def _request(t_ms: int, key: int, method: str, body: dict) -> tuple:
    return t_ms, key, method, json.loads(json.dumps(body))


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
    assert [(body["version"], body["text"]) for *_, body in lost["requests"]] == [(0, "a"), (0, "ab"), (1, "ab")]
    assert lost["final"] == {1: {"version": 2, "state": "stored"}}
    conflict = runs["another device's save first is a real conflict: the image waits, never overwritten"]
    assert conflict["final"] == {1: {"version": 0, "state": "blocked"}}


def _changes(run: dict) -> list[tuple]:
    """Return each request as (method, version, op, strokes removed, strokes appended)."""
    return [(m, b["version"], b.get("op"), b.get("remove"), len(b.get("append", []))) for _, _, m, b in run["requests"]]


def test_the_change_scenarios_meet_ops_lost_answers_refusals_and_conflicts():
    # What the comparison is worth for PATCH: changes from the acknowledged version, one op for
    # one state, a 409 after a lost answer built on, a refused change sent whole, a conflict.
    runs = {name: run_in_python(scenario) for name, scenario in SCENARIOS.items()}
    undo = runs["strokes appended and removed from the end go as changes from the acknowledged version"]
    assert [(m, version, removed, appended) for m, version, _, removed, appended in _changes(undo)] == [
        ("PATCH", 0, 0, 2),
        ("PATCH", 1, 1, 1),
        ("PATCH", 2, 1, 0),
        ("PATCH", 3, 0, 0),
    ]
    assert [sorted(set(body) & {"label", "text", "status", "started_at"}) for *_, body in undo["requests"]] == [
        ["started_at"],
        [],
        ["label"],
        ["status", "text"],
    ]
    retried = _changes(runs["a change whose answer was lost is sent again with the same op, and not applied twice"])
    assert len(retried) == 3 and len({change[:3] for change in retried}) == 1
    name = "a change whose answer was lost, changed since, gets a 409 with its own content and goes on from it"
    built_on = runs[name]
    assert [(m, version, removed, appended) for m, version, _, removed, appended in _changes(built_on)] == [
        ("PATCH", 3, 0, 1),
        ("PATCH", 3, 0, 2),
        ("PATCH", 4, 0, 1),
    ]
    assert built_on["final"] == {1: {"version": 5, "state": "stored"}}
    refused = runs["a change the server refuses (400) is sent again as the whole document"]
    assert [m for m, *_ in _changes(refused)] == ["PATCH", "PUT"]
    conflict = runs["another device's save before a change is a real conflict: the image waits, never overwritten"]
    assert conflict["final"] == {1: {"version": 3, "state": "blocked"}}
