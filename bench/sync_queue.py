"""A Python copy of the annotation app's sync queue, for bench/load_annotators.py's simulated annotators.

It mirrors src/services/syncQueue.js (``MIRRORS``) and the change it sends, src/document.js's
changeJson (its debounce, DEBOUNCE_MS, is in src/services/sync.js): one request at a time. A save
sends what changed since the version the server last acknowledged (``acked``: known from the
server's own answers, and from the annotation read when the image was opened): a PATCH with the
strokes removed from the end, the strokes appended, the label, text and status that changed, and
an op id that is the same for a retry of the same state (``{session}-{image}-{version}-{rev}``),
so a change whose answer was lost is not applied twice. Without an acknowledged base, or once
the server refused a change (400), it PUTs the whole document with the version it was based on.
No answer, 429 and 5xx are retried with back-off doubling from 1 s to 30 s with jitter, and every
waiting image is sent at once when any request is answered again; a 409 whose stored content is
what was sent is stored, one whose content was sent earlier without an answer is our own save
whose answer was lost (build on it: its content is the new base, and send the rest); a change
made while a request is out is sent after it. ``changes=False`` is the app without
changeAnnotation: every save a whole-document PUT (load_annotators.py ``--method put``).

Not copied, since the simulation never meets them: pausing on 401/403 until the annotator signs
in again, and waiting for the annotator's choice after a real conflict, a 400 of a whole document
or ``image_full`` (here such an image is refused: recorded as an error and not sent again); the
client description (``client``) a save carries; ``Prefer: return=minimal`` on a PUT (the copy
reads the strokes back from the answer to check them); and the ink budget of one change
(LIMITS.maxInk, 400,000: main's app sends a change over it as a whole PUT, and a change over it
may come to be split into several PATCHes): a simulated stroke (at most 120 points, 32 px wide)
holds under 5,000 units, so even a change carrying all of an image's strokes (at most 8, when an
outage coalesces them) stays under 40,000, a tenth of the budget.

bench/tests/test_sync_queue.py runs the same scenarios through this copy and through the app's
own module, and fails when they part (methods and bodies of every request): change both
together. Why a copy at all: the simulation runs a hundred annotators' queues in one asyncio
process, against a real server.
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


def base36(number: int) -> str:
    """Return the number in base 36, as JavaScript's ``number.toString(36)``."""
    digits, text = "0123456789abcdefghijklmnopqrstuvwxyz", ""
    while True:
        number, digit = divmod(number, 36)
        text = digits[digit] + text
        if not number:
            return text


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
    """What the server holds as a client knows it: the content of a version the server acknowledged."""

    content: dict
    version: int


def shared_prefix(mine, theirs) -> int:
    """Return how many strokes two lists share from the start (the app's sharedPrefix)."""
    count = 0
    for a, b in zip(mine, theirs, strict=False):
        if a is not b and a != b:
            break
        count += 1
    return count


def change_body(base: Saved, draft: Draft, op: str) -> dict:
    """Return the PATCH body taking what the server holds (``base``) to the draft, as the app's changeJson."""
    strokes = base.content["strokes"]
    kept = shared_prefix(strokes, draft.strokes)
    body = {
        "append": list(draft.strokes[kept:]),
        "version": base.version,
        "remove": len(strokes) - kept,
        "op": op,
        "active_ms": draft.active_ms,
    }
    for name in ("label", "text", "status"):
        if getattr(draft, name) != base.content[name]:
            body[name] = getattr(draft, name)
    if draft.started_at and base.version == 0:
        body["started_at"] = draft.started_at
    return body


def content_of(annotation: dict) -> dict:
    """Return the content of an annotation as the server answers it (strokes, label, text, status)."""
    return {name: annotation[name] for name in ("strokes", "label", "text", "status")}


class SyncQueue:
    """The app's SyncQueue in Python: send each image's latest document until it is stored.

    ``client.attempt(kind, method, path, body)`` sends one request and returns its Answer;
    ``recorder`` holds the clock (``now()``), the counts and the errors. ``changes``: send
    changes (PATCH) when the server's copy is known, as the app does; False: always PUT.
    """

    def __init__(self, client: "Client", recorder: "Recorder", rng: random.Random, *, changes: bool = True):
        self.client = client
        self.recorder = recorder
        self.rng = rng
        self.changes = changes
        self.session = base36(int(rng.random() * 2**40))  # op ids are unique to this queue
        self.drafts: dict[int, Draft] = {}  # the latest local document of each image
        self.synced: dict[int, int] = {}  # the rev the server has
        self.base: dict[int, int] = {}  # the version the local document is based on
        self.acked: dict[int, Saved] = {}  # what the server holds, from its answers: what a change is computed from
        self.order: list[int] = []  # images waiting, oldest change first
        self.due: dict[int, float] = {}
        self.attempts: dict[int, int] = {}
        self.first_failure: dict[int, tuple[float, str]] = {}  # when the first failed attempt ended, and its status
        self.last_failure: dict[int, str] = {}  # the status of the last failed attempt, while it is retried
        self.unacked: dict[int, list[str]] = {}  # content keys sent without an answer
        self.saved: dict[int, Saved] = {}  # what this client believes stored: checked at the run's end
        self.history: dict[int, dict[int, dict]] = {}  # image -> version -> content, each acknowledged: the revisions
        self.refused: dict[int, str] = {}
        self.wake = asyncio.Event()
        self.settled = asyncio.Condition()

    def opened(self, image_id: int, stored: dict) -> None:
        """Start from the server's annotation of the image (version 0: none yet), unless we saved it before.

        As the app's sync.opened: a draft made from the server's answer tells the queue what the
        server holds, so its changes go as changes. What this client had acknowledged stays its
        belief, as the app's drafts in IndexedDB do: the final comparison tells whether the server
        still has it.
        """
        if image_id in self.saved:
            return
        self.base[image_id] = stored["version"]
        self.acked[image_id] = Saved(content_of(stored), stored["version"])
        if stored["version"]:
            self.saved[image_id] = Saved(content_of(stored), stored["version"])
            self.history.setdefault(image_id, {})[stored["version"]] = content_of(stored)

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

    def request(self, key: int, draft: Draft) -> tuple[str, dict]:
        """Return the method and body of the next save of the draft: a change if the server's copy is known."""
        base = self.acked.get(key)
        if self.changes and base is not None and base.version == self.base.get(key, 0):
            # The same op for the same state: a retry of a change whose answer was lost is not applied twice.
            return "PATCH", change_body(base, draft, f"{self.session}-{key}-{base.version}-{draft.rev}")
        body = {**draft.content(), "version": self.base.get(key, 0), "active_ms": draft.active_ms}
        if draft.started_at:
            body["started_at"] = draft.started_at
        return "PUT", body

    async def send(self, key: int) -> None:
        """Send the image's latest document once, and act on the answer as the app does."""
        draft = self.drafts[key]
        if self.synced.get(key) == draft.rev:
            self._done(key)
            return
        sent = content_key(draft.content())
        self.unacked[key] = (self.unacked.get(key, []) + [sent])[-UNACKED_KEPT:]
        kind = "submit" if draft.status == "submitted" else "save"
        method, body = self.request(key, draft)
        answer = await self.client.attempt(kind, method, f"/api/images/{key}/annotation/", body)
        current = (answer.body or {}).get("current") if answer.status == 409 else None
        if answer.ok:
            self._check_answer(key, draft, method, answer.body)
            self.acked[key] = Saved(draft.content(), answer.body["version"])
            self._stored(key, draft, answer.body["version"], kind, method)
        elif current is not None:
            self._conflict(key, draft, current, sent, kind)
        elif method == "PATCH" and answer.status == 400:
            # Refused as a change: send the whole document, which says what is wrong, if anything.
            # Never expected here (the simulation draws valid strokes): recorded as an error.
            self.recorder.error(f"{kind} of image {key}: a change refused ({answer.code}): {answer.body}")
            self.acked.pop(key, None)
            self.due[key] = self.recorder.now()
        elif answer.retryable:
            attempt = self.attempts[key] = self.attempts.get(key, 0) + 1
            self.first_failure.setdefault(key, (answer.end, str(answer.status)))
            self.last_failure[key] = str(answer.status)
            self.recorder.counts["retries"] += 1
            self.recorder.counts[f"{method} retries"] += 1
            self.due[key] = self.recorder.now() + backoff(attempt, self.rng)
        else:
            self._refuse(key, f"{kind} of image {key}: {answer.status} {answer.code}", answer.body)

    def _check_answer(self, key: int, draft: Draft, method: str, stored: dict) -> None:
        """Record an error if the server acknowledged other content than was sent (a change's answer has no strokes)."""
        mine = draft.content()
        if method == "PATCH":
            mine = {"stroke_count": len(draft.strokes), **{name: mine[name] for name in ("label", "text", "status")}}
        where = first_difference(mine, stored)
        if where:
            self.recorder.error(f"image {key}: the server acknowledged other content than was sent: {where}")

    def _conflict(self, key: int, draft: Draft, current: dict, sent: str, kind: str) -> None:
        """Act on a 409 with the stored annotation, as the app does."""
        theirs = content_key(current)
        self.acked[key] = Saved(content_of(current), current["version"])  # what the server holds, whoever wrote it
        self.history.setdefault(key, {})[current["version"]] = content_of(current)
        if theirs == sent:
            self._stored(key, draft, current["version"], kind, "409")  # the same content is stored: nothing to send
        elif theirs in self.unacked[key]:
            # Our own earlier save landed but its answer was lost: build on it and send again.
            self.recorder.counts["lost answers recognised"] += 1
            self.base[key] = current["version"]
            self.due[key] = self.recorder.now()
        else:
            # A real conflict would wait for the annotator in the app; here, never expected.
            self.acked.pop(key, None)
            self._refuse(key, f"{kind} of image {key}: 409 {current.get('version')}", current)

    def _refuse(self, key: int, reason: str, body) -> None:
        # A real conflict, image_full or a refusal would wait for the annotator in the app; here, never expected.
        self.refused[key] = reason
        self.recorder.error(f"{reason}: {body}")
        self._done(key)

    def _stored(self, key: int, draft: Draft, version: int, kind: str, method: str) -> None:
        self.base[key] = version
        self.synced[key] = draft.rev
        self.saved[key] = Saved(draft.content(), version)
        self.history.setdefault(key, {})[version] = draft.content()
        self.recorder.counts[f"{kind}s acknowledged"] += 1
        if method == "PATCH" and not self.last_failure.get(key, "0").isdigit():
            # Sent again after no answer: its op made the stored version already, or it was applied now.
            self.recorder.counts["changes answered after no answer"] += 1
        if key in self.first_failure:
            self.recorder.retried(kind, *self.first_failure.pop(key))
        self.attempts.pop(key, None)
        self.unacked.pop(key, None)
        self.last_failure.pop(key, None)
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
        self.last_failure.pop(key, None)
