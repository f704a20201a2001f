"""A Python copy of the annotation app's sync queue, for bench/load_annotators.py's simulated annotators.

It mirrors src/services/syncQueue.js (``MIRRORS``; its debounce, DEBOUNCE_MS, is in
src/services/sync.js): one request at a time; every PUT carries the whole document and the
version it was based on; no answer, 429 and 5xx are retried with back-off doubling from 1 s to
30 s with jitter, and every waiting image is sent at once when any request is answered again; a
409 whose stored content is what was sent is stored, one whose content was sent earlier without
an answer is our own save whose answer was lost (build on it, send again); a change made while a
request is out is sent after it.

Not copied, since the simulation never meets them: pausing on 401/403 until the annotator signs
in again, and waiting for the annotator's choice after a real conflict, a 400 or ``image_full``
(here such an image is refused: recorded as an error and not sent again).

bench/tests/test_sync_queue.py runs the same scenarios through this copy and through the app's
own module, and fails when they part: change both together. Why a copy at all: the simulation
runs a hundred annotators' queues in one asyncio process, against a real server.
"""

import asyncio
import json
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the simulation's HTTP client and clock; tests pass fakes of the same shape
    from bench.load_annotators import Client, Recorder

MIRRORS = "src/services/syncQueue.js"  # the app's module this copies (bench/tests/test_sync_queue.py)

# The app's constants: syncQueue.js's BACKOFF and the unacknowledged contents it keeps, sync.js's DEBOUNCE_MS.
BACKOFF_BASE_S = 1.0
BACKOFF_MAX_S = 30.0
UNACKED_KEPT = 8
DEBOUNCE_S = 0.4


def backoff(attempt: int, rng: random.Random) -> float:
    """Return the delay before retry number ``attempt``, as the app's backoffDelay()."""
    ceiling = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** (attempt - 1))
    return ceiling * (0.5 + 0.5 * rng.random())


@dataclass(frozen=True)
class Draft:
    """The local document of one image at one local revision (strokes are never changed once drawn)."""

    image_id: int
    rev: int
    strokes: tuple
    label: str | None
    text: str
    status: str
    started_at: str
    active_ms: int

    def content(self) -> dict:
        return {"strokes": list(self.strokes), "label": self.label, "text": self.text, "status": self.status}


def content_key(document: dict) -> str:
    """Return a string equal for two documents exactly when their content (what makes a version) is."""
    parts = [document["strokes"], document["label"], document["text"], document["status"]]
    return json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def first_difference(mine, theirs, path: str = "") -> str:
    """Return where two JSON values first differ, e.g. ``strokes[2].points[7]: [1.5, ...] != [1.25, ...]``."""
    if isinstance(mine, dict) and isinstance(theirs, dict):
        for name in mine:
            found = first_difference(mine[name], theirs.get(name), f"{path}.{name}" if path else name)
            if found:
                return found
        return ""
    if isinstance(mine, list) and isinstance(theirs, list) and mine != theirs:
        for index, (a, b) in enumerate(zip(mine, theirs, strict=False)):
            found = first_difference(a, b, f"{path}[{index}]")
            if found:
                return found
        return f"{path}: {len(mine)} items != {len(theirs)}"
    if json.dumps(mine, sort_keys=True) != json.dumps(theirs, sort_keys=True):
        return f"{path}: {json.dumps(mine)[:80]} != {json.dumps(theirs)[:80]}"
    return ""


@dataclass(frozen=True)
class Saved:
    """What a client believes is stored: the content of its last acknowledged save and that version."""

    content: dict
    version: int


class SyncQueue:
    """The app's SyncQueue in Python: send each image's latest document until it is stored.

    ``client.attempt(kind, method, path, body)`` sends one request and returns its Answer;
    ``recorder`` holds the clock (``now()``), the counts and the errors.
    """

    def __init__(self, client: "Client", recorder: "Recorder", rng: random.Random):
        self.client = client
        self.recorder = recorder
        self.rng = rng
        self.drafts: dict[int, Draft] = {}  # the latest local document of each image
        self.synced: dict[int, int] = {}  # the rev the server has
        self.base: dict[int, int] = {}  # the version the local document is based on
        self.order: list[int] = []  # images waiting, oldest change first
        self.due: dict[int, float] = {}
        self.attempts: dict[int, int] = {}
        self.first_failure: dict[int, float] = {}
        self.unacked: dict[int, list[str]] = {}  # content keys sent without an answer
        self.saved: dict[int, Saved] = {}
        self.refused: dict[int, str] = {}
        self.wake = asyncio.Event()
        self.settled = asyncio.Condition()

    def opened(self, image_id: int, stored: dict) -> None:
        """Start from the server's annotation of the image (version 0: none yet), unless we saved it before.

        What this client had acknowledged stays its belief, as the app's drafts in IndexedDB do:
        the final comparison is what tells whether the server still has it.
        """
        if image_id in self.saved:
            return
        self.base[image_id] = stored["version"]
        if stored["version"]:
            content = {name: stored[name] for name in ("strokes", "label", "text", "status")}
            self.saved[image_id] = Saved(content, stored["version"])

    def change(self, draft: Draft, delay: float = DEBOUNCE_S) -> None:
        key = draft.image_id
        self.drafts[key] = draft
        if key not in self.order:
            self.order.append(key)
        if not self.attempts.get(key):
            self.due[key] = self.recorder.now() + delay
        self.wake.set()

    def next_due(self) -> tuple[int | None, float]:
        """Return the first image due to be sent now (None if none), and the seconds until the next one is due."""
        now = self.recorder.now()
        waiting = [key for key in self.order if key not in self.refused]
        key = next((k for k in waiting if self.due.get(k, 0) <= now), None)
        return key, min((self.due[k] for k in waiting), default=now + 3600) - now

    async def run(self) -> None:
        """Send what is due, one request at a time, for as long as the run lasts (cancelled at its end)."""
        while True:
            key, wait = self.next_due()
            if key is None:
                self.wake.clear()
                try:
                    await asyncio.wait_for(self.wake.wait(), timeout=max(0.0, wait))
                except TimeoutError:
                    pass
                continue
            await self.send(key)
            async with self.settled:
                self.settled.notify_all()

    async def stored(self, key: int | None = None, timeout: float | None = None) -> bool:
        """Wait until the image (or every image) is stored; False if refused or not stored in time."""

        def settled():
            return key not in self.order if key is not None else not self.order

        try:
            async with self.settled:
                await asyncio.wait_for(self.settled.wait_for(settled), timeout)
        except TimeoutError:
            return False
        return key not in self.refused

    async def send(self, key: int) -> None:
        """Send the image's latest document once, and act on the answer as the app does."""
        draft = self.drafts[key]
        if self.synced.get(key) == draft.rev:
            self._done(key)
            return
        sent = content_key(draft.content())
        self.unacked[key] = (self.unacked.get(key, []) + [sent])[-UNACKED_KEPT:]
        kind = "submit" if draft.status == "submitted" else "save"
        body = {
            **draft.content(),
            "version": self.base.get(key, 0),
            "started_at": draft.started_at,
            "active_ms": draft.active_ms,
        }
        answer = await self.client.attempt(kind, "PUT", f"/api/images/{key}/annotation/", body)
        current = (answer.body or {}).get("current") if answer.status == 409 else None
        if answer.ok:
            if content_key(answer.body) != sent:
                where = first_difference(draft.content(), answer.body)
                self.recorder.error(f"image {key}: the server acknowledged other content than was sent: {where}")
            self._stored(key, draft, answer.body["version"], kind)
        elif current is not None and content_key(current) == sent:
            self._stored(key, draft, current["version"], kind)  # the same content is stored: nothing to send
        elif current is not None and content_key(current) in self.unacked[key]:
            # Our own earlier save landed but its answer was lost: build on it and send again.
            self.recorder.counts["lost answers recognised"] += 1
            self.base[key] = current["version"]
            self.due[key] = self.recorder.now()
        elif answer.retryable:
            attempt = self.attempts[key] = self.attempts.get(key, 0) + 1
            self.first_failure.setdefault(key, answer.end)
            self.recorder.counts["retries"] += 1
            self.due[key] = self.recorder.now() + backoff(attempt, self.rng)
        else:
            # A real conflict, image_full or a refusal would wait for the annotator in the app; here, never expected.
            self.refused[key] = f"{kind} of image {key}: {answer.status} {answer.code}"
            self.recorder.error(f"{self.refused[key]}: {answer.body}")
            self._done(key)

    def _stored(self, key: int, draft: Draft, version: int, kind: str) -> None:
        self.base[key] = version
        self.synced[key] = draft.rev
        self.saved[key] = Saved(draft.content(), version)
        self.recorder.counts[f"{kind}s acknowledged"] += 1
        if key in self.first_failure:
            self.recorder.retried(kind, self.first_failure.pop(key))
        self.attempts.pop(key, None)
        self.unacked.pop(key, None)
        # The server answers again: send what waits for it now, not when each back-off runs out.
        for other in self.order:
            if self.attempts.get(other):
                self.due[other] = self.recorder.now()
        if self.drafts[key].rev == draft.rev:
            self._done(key)
        else:
            self.due[key] = self.recorder.now()  # changed while the request was out: send the rest

    def _done(self, key: int) -> None:
        if key in self.order:
            self.order.remove(key)
        self.due.pop(key, None)
        self.attempts.pop(key, None)
        self.unacked.pop(key, None)
