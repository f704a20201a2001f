#!/usr/bin/env python
"""Simulate annotators working on EyeTagger as in production (with faults if asked); check nothing saved is lost.

Starts the deployment of bench/stack.py (Gunicorn with deploy/gunicorn.conf.py, DEBUG off) on a
private PostgreSQL cluster of its own (bench/pgcluster.py: restarting it disturbs no one), then
runs the annotators from this one process (asyncio + aiohttp). Each behaves like the annotation
app: asks for its next image with images leased ahead (`next/?ahead=10`), opens it (its
annotation, then its file once), draws strokes in real time (random walks in image pixels with
per-point times and pressure; an eraser, a lasso, an undo now and then) with human pauses of
seconds, saves after each change through a copy of the app's sync queue (bench/sync_queue.py,
kept in step with src/services/syncQueue.js by a test: one request at a time; a PATCH of what
changed since the version the server acknowledged, with an op id, or the whole document (PUT)
without one; retried on no answer / 429 / 5xx with back-off from 1 s doubling to 30 s with
jitter, a 409 handled as the app does), answers the question, sometimes types a justification,
submits, and goes on. ``--method put`` saves whole documents only, as before the app sent
changes, for comparison.

At the end every queue is drained, and every annotation a client believes saved (its last
acknowledged content and version) is read back through the API and compared byte for byte
(canonical JSON of strokes, label, text, status and version: GET gives the whole document
whether its strokes are in the annotation's row or in chunks, as PATCHes leave them). In the
database, every annotation's stored mask, area and counts must be those of its strokes painted
from scratch (a change paints only its new strokes onto the stored mask), and every revision
must read back as the version it keeps was acknowledged to its client (an undo by PATCH keeps
what it removed as a revision that refers to chunks). The exit status is 0 only when nothing is
lost or different, every request that failed was retried to success, no answer was a 500 (or a
503 not in the API's error shape), the queue's counters agree with its assignments, the masks
and revisions are right, some images were submitted, and - without faults - no request failed.

Faults (--faults): at 25%, 42%, 58% and 75% of the run, a Postgres restart (`pg_ctl restart -m
fast`), a SIGKILL of a Gunicorn worker caught inside a database transaction, a crash restart
(`-m immediate`: recovery from the WAL) and Postgres stopped for 5 s then started. While it is
away, probes check that the API and a page outside it (admin) answer 503 `database_unavailable`
with Retry-After; right after each restart, a burst of requests reaching every worker thread
must all succeed (each thread's persistent connection died: CONN_HEALTH_CHECKS must replace it).
Or name them: --fault KIND@SECONDS, repeatable, KIND one of pg-restart-fast,
pg-restart-immediate, pg-down:SECONDS, kill-worker. With faults, the clients also lose the
answer of 3% of their saves (--lose-answers): the server stored the save, the client never
hears it, as when a connection is cut after the commit. That is what a retried PATCH with the
same op (answered 200, applied once) and a 409 carrying the client's own earlier content (built
on) meet; the faults alone seldom cut an answer after its commit.

Besides counts and latencies (which follow whatever else the machine runs), it reports the CPU
time Gunicorn and Postgres spent, per request: what the load costs on a quiet machine.

    .venv/bin/python bench/load_annotators.py                    # 100 annotators for 60 s
    .venv/bin/python bench/load_annotators.py --faults
    .venv/bin/python bench/load_annotators.py --annotators 10 --duration 20 --fault pg-down:3@8
    .venv/bin/python bench/load_annotators.py --method put       # whole documents only, as before

Log lines go to standard error; the summary for docs/BENCHMARKS.md, in Markdown, to standard
output (--json FILE writes every figure).

One module of about 1,200 lines because it is one experiment whose parts share one run's
state: the annotators, the faults injected under them, the check of what was stored and the
report. The copy of the app's sync queue is apart (bench/sync_queue.py), kept in step by a test.
"""

import argparse
import asyncio
import hashlib
import json
import math
import os
import random
import re
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.helpers import log, machine, percentile  # noqa: E402  (the repository root is put on the path first)
from bench.pgcluster import Cluster, private_cluster  # noqa: E402
from bench.stack import Stack, cpu_seconds, running_stack  # noqa: E402
from bench.sync_queue import DEBOUNCE_S, Draft, SyncQueue, backoff, first_difference  # noqa: E402
from deploy.tests.support import manage  # noqa: E402

AHEAD = 10  # the images the app asks to lease ahead with every next (src/api/index.js, AHEAD)

FAULT_KINDS = ("pg-restart-fast", "pg-restart-immediate", "pg-down", "kill-worker")
DEFAULT_FAULTS = (("pg-restart-fast", 0.25), ("kill-worker", 0.42), ("pg-restart-immediate", 0.58), ("pg-down:5", 0.75))
LOST = "answer lost"  # the status of an attempt whose answer the client dropped (--lose-answers)
FAULTS_LOSE_ANSWERS = 0.03  # the share of saves whose answer is lost when faults are injected
TEXTS = ("the texture repeats", "printed dots near the pupil", "looks like a contact lens edge", "sharp, natural")


# --- Configuration ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """A fault to inject ``at`` seconds into the run; ``seconds``: how long Postgres stays down (pg-down)."""

    kind: str
    at: float
    seconds: float = 0.0

    @classmethod
    def parse(cls, text: str) -> "Fault":
        """Read KIND@SECONDS, e.g. ``kill-worker@30`` or ``pg-down:5@45``."""
        match = re.fullmatch(r"([a-z-]+)(?::(\d+(?:\.\d+)?))?@(\d+(?:\.\d+)?)", text)
        if not match or match[1] not in FAULT_KINDS or (match[1] == "pg-down") != (match[2] is not None):
            raise ValueError(
                f"a fault is KIND@SECONDS with KIND one of pg-restart-fast, pg-restart-immediate, pg-down:SECONDS, "
                f"kill-worker; got {text!r}"
            )
        return cls(kind=match[1], at=float(match[3]), seconds=float(match[2] or 0))

    def __str__(self) -> str:
        down = f":{self.seconds:g}" if self.kind == "pg-down" else ""
        return f"{self.kind}{down}@{self.at:g}"

    @property
    def restarts_postgres(self) -> bool:
        return self.kind.startswith("pg-")


def default_faults(duration: float) -> list[Fault]:
    return [Fault.parse(f"{kind}@{round(duration * share, 1):g}") for kind, share in DEFAULT_FAULTS]


@dataclass
class Config:
    annotators: int = 100
    duration: float = 60.0
    images: int | None = None  # default: 6 per annotator
    per_image: int | None = 3
    side: int = 512
    pause_scale: float = 1.0
    ahead: int = AHEAD
    faults: list[Fault] = field(default_factory=list)
    seed: int = 1
    drain_timeout: float = 90.0
    request_timeout: float = 30.0
    workers: int | None = None
    threads: int | None = None
    database_name: str = "eyetagger_load_bench"
    env: dict[str, str] = field(default_factory=dict)
    method: str = "patch"  # "patch": as the app, changes when the server's copy is known; "put": whole documents
    lose_answers: float = 0.0  # the share of saves whose answer the client drops after the server stored it

    @property
    def image_count(self) -> int:
        return self.images or max(20, 6 * self.annotators)


# --- What happened: every request attempt, and what it means --------------------------------------


@dataclass
class Answer:
    """One request attempt: an HTTP status, or no answer ("timeout", or the connection error's name)."""

    kind: str
    start: float
    end: float
    status: int | str
    body: dict | None = None
    retry_after: str | None = None
    method: str = "GET"

    @property
    def ok(self) -> bool:
        return isinstance(self.status, int) and 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        """As the app's ApiError.isRetryable: no answer, 429, or a server error."""
        return not isinstance(self.status, int) or self.status == 429 or self.status >= 500

    @property
    def code(self) -> str | None:
        return self.body.get("code") if isinstance(self.body, dict) else None


def shaped_503(answer: Answer) -> bool:
    """Return True if a 503 is the API's database_unavailable error, with Retry-After."""
    body = answer.body
    return (
        isinstance(body, dict)
        and body.get("code") == "database_unavailable"
        and isinstance(body.get("detail"), str)
        and bool(body.get("detail"))
        and isinstance(body.get("errors"), list)
        and bool(body["errors"])
        and all(isinstance(error, dict) and error.get("code") == "database_unavailable" for error in body["errors"])
        and answer.retry_after is not None
        and answer.retry_after.isdigit()
    )


class Recorder:
    """Every attempt, every operation that needed retries, and every error, on one clock (seconds from start)."""

    def __init__(self):
        self.t0 = time.monotonic()
        self.attempts: list[Answer] = []
        # (kind, first failure's end, success's end, the first failure's status)
        self.recoveries: list[tuple[str, float, float, str]] = []
        self.errors: list[str] = []
        self.counts = Counter()

    def now(self) -> float:
        return time.monotonic() - self.t0

    def error(self, message: str) -> None:
        if len(self.errors) < 20:
            log(f"ERROR {message}")
        self.errors.append(message)

    def add(self, answer: Answer) -> None:
        self.attempts.append(answer)
        if isinstance(answer.status, int) and answer.status >= 500:
            if answer.status != 503:
                self.error(f"{answer.kind}: answered {answer.status} at {answer.start:.1f} s")
            elif not shaped_503(answer):
                self.error(f"{answer.kind}: a 503 not shaped as database_unavailable with Retry-After: {answer.body}")

    def retried(self, kind: str, first_failure: float, cause: str = "") -> None:
        """Record an operation that succeeded after failing; ``cause``: its first failure's status."""
        self.recoveries.append((kind, first_failure, self.now(), cause))


class Client:
    """One annotator's HTTP client: their own connections and token, every attempt recorded."""

    def __init__(self, session: aiohttp.ClientSession, token: str, recorder: Recorder, rng: random.Random):
        self.session = session
        self.headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
        self.recorder = recorder
        self.rng = rng
        self.give_up_at = math.inf  # seconds from start; set by the run
        self.lose_answers = 0.0  # the share of saves whose answer is dropped once the server answered
        self.lose_rng = random.Random(0)  # its own draws: losing answers changes nothing else the run draws

    async def attempt(self, kind: str, method: str, path: str, body: dict | None = None) -> Answer:
        start = self.recorder.now()
        payload, headers = None, self.headers
        if body is not None:
            payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
            headers = {**headers, "Content-Type": "application/json"}
        parsed, retry_after = None, None
        try:
            async with self.session.request(method, path, data=payload, headers=headers) as response:
                raw = await response.read()
                status = response.status
                retry_after = response.headers.get("Retry-After")
                if response.content_type == "application/json":
                    parsed = json.loads(raw)
        except TimeoutError:
            status = "timeout"
        except aiohttp.ClientError as error:  # refused, reset, closed mid-answer: no answer, as a browser sees it
            status = type(error).__name__
        if method in ("PUT", "PATCH") and self.lose_answers and self.lose_rng.random() < self.lose_answers:
            status, parsed, retry_after = LOST, None, None  # whatever the server did, the client never hears it
        answer = Answer(kind, start, self.recorder.now(), status, parsed, retry_after, method)
        self.recorder.add(answer)
        return answer

    async def call(self, kind: str, method: str, path: str, body: dict | None = None) -> Answer:
        """Send until answered with anything but a retryable failure, backing off as the app does."""
        failures, first_failure = 0, None
        while True:
            answer = await self.attempt(kind, method, path, body)
            if not answer.retryable:
                if first_failure is not None:
                    self.recorder.retried(kind, first_failure)
                if not answer.ok:
                    self.recorder.error(f"{kind} {path}: {answer.status} {answer.body}")
                return answer
            failures += 1
            first_failure = answer.end if first_failure is None else first_failure
            delay = backoff(failures, self.rng)
            if self.recorder.now() + delay > self.give_up_at:
                self.recorder.error(f"{kind} {path}: gave up after {failures} failed attempts (last {answer.status})")
                return answer
            self.recorder.counts["retries"] += 1
            await asyncio.sleep(delay)


# --- Verifying what the server stored -------------------------------------------------------------


def canonical(document: dict, version: int) -> str:
    """Return the canonical JSON of a saved annotation: strokes, label, text, status and version."""
    fields = {name: document[name] for name in ("strokes", "label", "text", "status")}
    return json.dumps({**fields, "version": version}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# --- An annotator ----------------------------------------------------------------------------------


def random_walk(rng: random.Random, width: int, height: int, t0: float, tool: str) -> dict:
    """Return a stroke as a hand draws it: points every ~16 ms (pointer events at 60 Hz) in image pixels."""
    count = rng.randint(20, 120)
    x, y = rng.uniform(0.15, 0.85) * width, rng.uniform(0.15, 0.85) * height
    heading, speed = rng.uniform(0, 2 * math.pi), rng.uniform(1.5, 5.0)
    pressure, t = rng.uniform(0.3, 0.8), t0
    points = []
    if tool.startswith("lasso"):  # an outline around a region, closed by the server
        radius = rng.uniform(0.05, 0.2) * min(width, height)
        for k in range(count):
            angle = 2 * math.pi * k / count
            r = radius * (1 + rng.gauss(0, 0.05))
            points.append(_point(x + r * math.cos(angle), y + r * math.sin(angle), t, pressure, width, height))
            t += rng.uniform(14.0, 19.0)
    else:
        for _ in range(count):
            points.append(_point(x, y, t, pressure, width, height))
            heading += rng.gauss(0, 0.25)
            x, y = x + speed * math.cos(heading), y + speed * math.sin(heading)
            if not 0 <= x <= width:  # bounce off the image's edge
                heading = math.pi - heading
            if not 0 <= y <= height:
                heading = -heading
            pressure = min(1.0, max(0.05, pressure + rng.gauss(0, 0.03)))
            t += rng.uniform(14.0, 19.0)
    return {"tool": tool, "width": float(rng.choice([4, 6, 8, 12, 16, 24, 32])), "points": points}


def _point(x: float, y: float, t: float, p: float, width: int, height: int) -> list[float]:
    # Floats throughout, as the server stores them (an int 512 would come back as 512.0).
    x, y = min(max(x, 0.0), float(width)), min(max(y, 0.0), float(height))
    return [round(x, 2), round(y, 2), round(t, 1), round(p, 3)]


class Annotator:
    """One simulated person: next, open, draw, answer, maybe type, submit; with pauses of seconds."""

    def __init__(self, name: str, client: Client, queue: SyncQueue, config: Config, dataset_id: int, stop_at: float):
        self.name = name
        self.client = client
        self.queue = queue
        self.config = config
        self.dataset_id = dataset_id
        self.stop_at = stop_at
        self.rng = client.rng
        self.recorder = client.recorder
        self.files: set[int] = set()  # image files already fetched (the service worker keeps them)
        self.submitted: set[int] = set()  # images whose submission the server acknowledged

    def stopped(self) -> bool:
        return self.recorder.now() >= self.stop_at

    async def pause(self, low: float, high: float) -> None:
        """Wait like a person (scaled by --pause-scale), or less when the run ends first."""
        seconds = self.rng.uniform(low, high) * self.config.pause_scale
        await asyncio.sleep(max(0.0, min(seconds, self.stop_at - self.recorder.now())))

    async def work(self) -> None:
        await self.pause(0, 3)  # people do not all start at the same instant
        while not self.stopped():
            handout = await self.client.call("next", "GET", f"/api/datasets/{self.dataset_id}/next/?ahead={AHEAD}")
            if not handout.ok:
                return
            self.recorder.counts["nexts"] += 1
            image = handout.body["image"]
            if image is None:
                log(f"{self.name} has nothing left to annotate")
                return
            if image["id"] in self.submitted:
                self.recorder.error(f"{self.name}: next handed out image {image['id']} again, submitted before")
                return
            if not await self.annotate(image):
                return

    async def annotate(self, image: dict) -> bool:
        """Annotate one image; return False if something went wrong (recorded as an error)."""
        image_id, width, height = image["id"], image["width"], image["height"]
        opened = await self.client.call("open", "GET", f"/api/images/{image_id}/annotation/")
        if not opened.ok:
            return False
        stored = opened.body
        self.queue.opened(image_id, stored)
        if image_id not in self.files:
            if not (await self.client.call("file", "GET", f"/api/images/{image_id}/file/")).ok:
                return False
            self.files.add(image_id)
        opened_at = self.recorder.now()
        started_at = datetime.now(UTC).isoformat()
        strokes, label, text, rev = list(stored["strokes"]), stored["label"], stored["text"], 0

        def change(status="draft", delay=DEBOUNCE_S):
            nonlocal rev
            rev += 1
            active_ms = round((self.recorder.now() - opened_at) * 1000)
            draft = Draft(image_id, rev, tuple(strokes), label, text, status, started_at, active_ms)
            self.queue.change(draft, delay)

        await self.pause(1, 4)  # look at the image
        count = self.rng.randint(3, 8)
        for index in range(count):
            if self.stopped():
                return True
            tool = "brush"
            if 0 < index < count - 1:  # the last stroke is a brush, so the mask is never empty
                tool = self.rng.choices(["brush", "eraser", "lasso", "lasso-eraser"], [70, 15, 10, 5])[0]
            t0 = (self.recorder.now() - opened_at) * 1000
            stroke = random_walk(self.rng, width, height, t0, tool)
            # Drawing it takes as long as its points say (scaled like the pauses).
            await asyncio.sleep((stroke["points"][-1][2] - t0) / 1000 * self.config.pause_scale)
            strokes.append(stroke)
            change()
            if index < count - 1 and self.rng.random() < 0.08:  # undo it (the save keeps a revision)
                await self.pause(0.3, 1)
                strokes.pop()
                change()
            await self.pause(0.5, 3)
        if self.stopped():
            return True
        await self.pause(1, 3)
        label = self.rng.choice(["real", "fake"])
        change()
        if self.rng.random() < 0.4:  # a justification, typed in a few bursts
            words = self.rng.choice(TEXTS).split()
            for cut in sorted({self.rng.randint(1, len(words)) for _ in range(3)} | {len(words)}):
                await self.pause(0.5, 1.5)
                text = " ".join(words[:cut])
                change()
        await self.pause(0.5, 2)
        change(status="submitted", delay=0)
        # As the app's Next: wait for the submission to be stored, then ask for the next image.
        remaining = max(0.0, self.client.give_up_at - self.recorder.now())
        if not await self.queue.stored(image_id, timeout=remaining):
            self.recorder.error(f"{self.name}: image {image_id} was not stored before the run's end")
            return False
        self.submitted.add(image_id)
        return True


# --- Faults ----------------------------------------------------------------------------------------


@dataclass
class FaultRecord:
    fault: Fault
    started: float = 0.0
    ended: float = 0.0
    detail: str = ""
    probes: list[str] = field(default_factory=list)


async def inject_faults(
    faults: list[Fault], *, stack: Stack, cluster: Cluster, recorder: Recorder, rng: random.Random
) -> list[FaultRecord]:
    records, replacements = [], []
    probe_session = aiohttp.ClientSession(
        base_url=stack.url, timeout=aiohttp.ClientTimeout(total=30), connector=aiohttp.TCPConnector(limit=0)
    )
    probe_session._retry_connection = False  # see simulate()
    async with probe_session:
        for fault in sorted(faults, key=lambda f: f.at):
            await asyncio.sleep(max(0.0, fault.at - recorder.now()))
            record = FaultRecord(fault, started=recorder.now())
            log(f"Fault at {record.started:.1f} s: {fault.kind}{f' for {fault.seconds:g} s' if fault.seconds else ''}")
            try:
                if fault.kind == "kill-worker":
                    record.detail, replaced = await _kill_worker(stack, rng)
                    replacements.append((record, replaced))
                elif fault.kind == "pg-down":
                    await asyncio.to_thread(cluster.stop, mode="fast")
                    record.probes = await _probe(probe_session, stack, recorder)
                    await asyncio.sleep(max(0.0, record.started + fault.seconds - recorder.now()))
                    await asyncio.to_thread(cluster.start)
                else:
                    mode = fault.kind.removeprefix("pg-restart-")
                    took = await asyncio.to_thread(cluster.restart, mode=mode)
                    record.detail = f"pg_ctl restart -m {mode} took {took:.2f} s"
            except (RuntimeError, OSError) as error:
                recorder.error(f"fault {fault} failed: {error}")
            record.ended = recorder.now()
            if fault.restarts_postgres:
                record.probes.append(await _probe_reconnected(probe_session, stack, recorder))
            log(f"Fault {fault.kind} over at {record.ended:.1f} s {record.detail}")
            records.append(record)
        for record, replaced in replacements:
            try:
                record.detail += f"; {await replaced}"
            except RuntimeError as error:
                recorder.error(f"fault {record.fault} failed: {error}")
    return records


async def _kill_worker(stack: Stack, rng: random.Random, search_s: float = 5.0) -> tuple[str, asyncio.Task]:
    """SIGKILL a Gunicorn worker, one in the middle of a database transaction if one is found within search_s.

    A worker found inside a transaction is stopped (SIGSTOP) and checked again before the kill, so
    it cannot finish its request in between: the kill cuts a request in flight, mid-transaction.
    Return which worker and what it was doing, and a task saying when a new one served (a worker
    can take many seconds to start on a busy machine; the next faults do not wait for it).
    """
    before = stack.gunicorn.worker_pids()
    deadline = time.monotonic() + search_s
    victim, doing = None, "no worker was inside a transaction: an idle one"
    while victim is None and time.monotonic() < deadline:
        busy = await asyncio.to_thread(busy_worker, stack)
        if busy is None:
            await asyncio.sleep(0.02)
            continue
        pid, port, doing = busy
        os.kill(pid, signal.SIGSTOP)
        try:
            still = await asyncio.to_thread(_connection_state, stack, port)
        except BaseException:
            os.kill(pid, signal.SIGCONT)  # never leave a worker stopped
            raise
        if still in ("active", "idle in transaction"):
            victim = pid
        else:
            os.kill(pid, signal.SIGCONT)  # it finished meanwhile: look again
    victim = victim or rng.choice(before)
    os.kill(victim, signal.SIGKILL)
    return f"worker {victim} killed ({doing})", asyncio.create_task(_replaced(stack, victim, len(before)))


async def _replaced(stack: Stack, victim: int, count: int) -> str:
    started = time.monotonic()
    while time.monotonic() - started < 60:
        pids = stack.gunicorn.worker_pids()
        if victim not in pids and len(pids) >= count and set(pids) <= stack.gunicorn.ready_pids():
            return f"{count} workers serving again after {time.monotonic() - started:.2f} s"
        await asyncio.sleep(0.05)
    raise RuntimeError(f"Gunicorn did not replace worker {victim} within 60 s")


def busy_worker(stack: Stack) -> tuple[int, int, str] | None:
    """Return a worker whose database connection runs a query or holds a transaction open: (pid, port, what).

    pg_stat_activity names the client port of each connection; /proc/net/tcp gives that socket's
    inode, and the worker holding it is the one with that inode among its file descriptors.
    """
    with psycopg.connect(stack.database_url, autocommit=True, connect_timeout=5) as connection:
        rows = connection.execute(
            "SELECT client_port, state, left(regexp_replace(query, '\\s+', ' ', 'g'), 50) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid() AND client_port IS NOT NULL"
            " AND state IN ('active', 'idle in transaction')"
        ).fetchall()
        server_port = connection.info.port
    doing = {port: f"{state}: {query}" for port, state, query in rows}
    inodes = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port, remote_port = int(fields[1].split(":")[1], 16), int(fields[2].split(":")[1], 16)
        if local_port in doing and remote_port == server_port:
            inodes[f"socket:[{fields[9]}]"] = local_port
    for pid in stack.gunicorn.worker_pids():
        try:
            descriptors = list(Path(f"/proc/{pid}/fd").iterdir())
        except FileNotFoundError:  # the worker exited (max_requests) since we listed it
            continue
        for descriptor in descriptors:
            try:
                target = os.readlink(descriptor)
            except FileNotFoundError:
                continue
            if target in inodes:
                port = inodes[target]
                return pid, port, doing[port]
    return None


def _connection_state(stack: Stack, port: int) -> str | None:
    with psycopg.connect(stack.database_url, autocommit=True, connect_timeout=5) as connection:
        row = connection.execute("SELECT state FROM pg_stat_activity WHERE client_port = %s", [port]).fetchone()
    return row[0] if row else None


async def _probe(session: aiohttp.ClientSession, stack: Stack, recorder: Recorder) -> list[str]:
    """While Postgres is away: the API, and a page outside it, must answer 503 database_unavailable."""
    results = []
    probes = [
        ("probe api", "/api/auth/me/", {"Authorization": f"Token {stack.tokens[0]}"}),
        ("probe admin", "/api/admin/", {"Cookie": "sessionid=probe-of-a-database-outage"}),
    ]
    for kind, path, headers in probes:
        start = recorder.now()
        try:
            async with session.get(path, headers=headers, allow_redirects=False) as response:
                body = await response.json(content_type=None) if response.content_type == "application/json" else None
                answer = Answer(kind, start, recorder.now(), response.status, body, response.headers.get("Retry-After"))
        except (aiohttp.ClientError, TimeoutError) as error:
            answer = Answer(kind, start, recorder.now(), type(error).__name__)
        if answer.status != 503 or not shaped_503(answer):
            recorder.error(f"{kind} {path} while Postgres was down: {answer.status} {answer.body}")
        results.append(f"{path} {answer.status} {answer.code} Retry-After {answer.retry_after}")
    return results


async def _probe_reconnected(session: aiohttp.ClientSession, stack: Stack, recorder: Recorder) -> str:
    """Right after Postgres is back: a burst of requests reaching every worker thread must all succeed.

    Each thread's persistent connection died with the server; CONN_HEALTH_CHECKS must notice and
    reconnect before using it, so not one of these may fail, however idle the thread was.
    """
    count = 2 * len(stack.gunicorn.worker_pids()) * int(stack.env.get("GUNICORN_THREADS", 4))

    async def one(index: int) -> str:
        headers = {"Authorization": f"Token {stack.tokens[index % len(stack.tokens)]}"}
        try:
            async with session.get("/api/auth/me/", headers=headers) as response:
                await response.read()
                return str(response.status)
        except (aiohttp.ClientError, TimeoutError) as error:
            return type(error).__name__

    statuses = Counter(await asyncio.gather(*(one(index) for index in range(count))))
    failed = count - statuses["200"]
    if failed:
        recorder.error(f"right after Postgres was back, {failed} of {count} requests at once failed: {dict(statuses)}")
    return f"right after it was back, {count} requests at once: {_statuses(statuses)}"


# --- The run ---------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """Everything a run measured, for the summary, the JSON and the test."""

    config: Config
    recorder: Recorder
    faults: list[FaultRecord]
    queues: list[SyncQueue]
    verified: int = 0
    different: list[str] = field(default_factory=list)
    unsent: int = 0
    server: dict = field(default_factory=dict)
    machine: dict = field(default_factory=dict)
    started: str = ""
    wall_s: float = 0.0
    cpu: dict = field(default_factory=dict)

    def failures(self) -> list[str]:
        """Return why this run failed (empty when it passed)."""
        problems = list(self.recorder.errors)
        failed = [a for a in self.recorder.attempts if not a.ok and a.retryable and a.status != LOST]
        if not self.config.faults and failed:
            problems.append(f"{len(failed)} requests failed without any fault injected")
        if self.server.get("wrong"):
            problems.append(f"stored masks, counts or revisions not right: {self.server['wrong'][:3]}")
        if self.different:
            problems.append(f"{len(self.different)} annotations lost or different")
        if self.unsent:
            problems.append(f"{self.unsent} documents never stored")
        if self.server.get("queue_problems"):
            problems.append(f"queue counters disagree: {self.server['queue_problems'][:3]}")
        if self.server.get("unknown"):
            problems.append(f"{self.server['unknown']} annotations on the server that no client knows it saved")
        if not self.recorder.counts["submits acknowledged"]:
            problems.append("no image was submitted")
        return problems


async def simulate(config: Config, stack: Stack, cluster: Cluster | None, recorder: Recorder) -> Outcome:
    stop_at = recorder.now() + config.duration
    give_up_at = stop_at + config.drain_timeout
    timeout = aiohttp.ClientTimeout(total=config.request_timeout)
    sessions, queues, annotators = [], [], []
    for index, (name, token) in enumerate(zip(stack.usernames, stack.tokens, strict=True)):
        # Each annotator has its own connections, as each browser does (up to 6 per host).
        session = aiohttp.ClientSession(
            base_url=stack.url, timeout=timeout, connector=aiohttp.TCPConnector(limit=6), raise_for_status=False
        )
        # aiohttp silently sends an idempotent request (PUT too) again once when its connection is
        # closed without an answer, as when a worker is killed: turned off (there is no public
        # switch), so every attempt the server failed is seen, counted, and retried by the sync queue.
        session._retry_connection = False
        sessions.append(session)
        client = Client(session, token, recorder, random.Random(config.seed * 100_003 + index))
        client.give_up_at = give_up_at
        client.lose_answers, client.lose_rng = config.lose_answers, random.Random(config.seed * 7_919 + index)
        queue = SyncQueue(client, recorder, client.rng, changes=config.method == "patch")
        queues.append(queue)
        annotators.append(Annotator(name, client, queue, config, stack.dataset_id, stop_at))
    tasks = []  # everything started here is cancelled, and every connection closed, however the run ends
    try:
        tasks += [asyncio.create_task(queue.run()) for queue in queues]
        log(f"Running {config.annotators} annotators for {config.duration:g} s")
        work = [asyncio.create_task(annotator.work()) for annotator in annotators]
        tasks += work
        faults_task = None
        if config.faults:
            rng = random.Random(config.seed)
            faults_task = asyncio.create_task(
                inject_faults(config.faults, stack=stack, cluster=cluster, recorder=recorder, rng=rng)
            )
            tasks.append(faults_task)
        tasks.append(asyncio.create_task(_progress(recorder, queues, stop_at)))
        await asyncio.wait(work, timeout=give_up_at - recorder.now())
        for task in work:
            if not task.done():
                recorder.error("an annotator was still busy at the run's end")
            elif task.exception():
                recorder.error(f"an annotator failed: {task.exception()!r}")
        faults = await faults_task if faults_task else []
        log(f"Work stopped at {recorder.now():.1f} s; sending what is queued (at most {config.drain_timeout:g} s)")
        remaining = max(1.0, give_up_at - recorder.now())
        await asyncio.gather(*(queue.stored(timeout=remaining) for queue in queues))
        outcome = Outcome(config, recorder, faults, queues)
        outcome.unsent = sum(len(queue.order) for queue in queues)
        log(f"Queues drained at {recorder.now():.1f} s ({outcome.unsent} documents unsent)")
        for task in tasks:
            task.cancel()
        log("Reading back every annotation a client believes saved")
        verify_until = recorder.now() + 120
        for annotator in annotators:
            annotator.client.give_up_at = verify_until
        results = await asyncio.gather(*(_verify(annotator) for annotator in annotators))
        outcome.verified = sum(count for count, _ in results)
        outcome.different = [message for _, messages in results for message in messages]
        return outcome
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for session in sessions:
            await session.close()


async def _verify(annotator: Annotator) -> tuple[int, list[str]]:
    """Compare each annotation this annotator believes saved with what the server has, byte for byte."""
    count, different = 0, []
    for image_id, saved in annotator.queue.saved.items():
        answer = await annotator.client.call("verify", "GET", f"/api/images/{image_id}/annotation/")
        count += 1
        if not answer.ok:
            different.append(f"{annotator.name}, image {image_id}: could not be read back ({answer.status})")
        elif canonical(answer.body, answer.body["version"]) != canonical(saved.content, saved.version):
            different.append(
                f"{annotator.name}, image {image_id}: believed saved as version {saved.version}, "
                f"the server has version {answer.body['version']}; "
                f"content: {first_difference(saved.content, answer.body) or 'the same'}"
            )
    return count, different


async def _progress(recorder: Recorder, queues: list[SyncQueue], stop_at: float) -> None:
    while recorder.now() < stop_at:
        await asyncio.sleep(10)
        failed = sum(1 for a in recorder.attempts if not a.ok and a.retryable)
        counts = recorder.counts
        log(
            f"{recorder.now():5.1f} s: {len(recorder.attempts)} requests, {counts['nexts']} nexts, "
            f"{counts['saves acknowledged']} saves, {counts['submits acknowledged']} submits, "
            f"{failed} failed attempts, {sum(len(q.order) for q in queues)} documents queued"
        )


_SERVER_STATE = """
import hashlib
import json
from collections import Counter
from backend.api import masks, strokes
from backend.api.selectors import queue_check
from backend.api.selectors.strokes import stored_strokes
from backend.api.models import Annotation, AnnotationRevision, Assignment, Dataset
dataset = Dataset.objects.get()
# Every annotation's mask, area and counts are those of its strokes painted from scratch (a change
# paints its new strokes onto the stored mask, an undo repaints from a checkpoint), and every
# revision reads back (a chunked one refers to chunks), whichever way they were saved; each
# revision's digest goes to server_state(), to be compared with what its client acknowledged.
wrong, stored = [], Counter()
for annotation in Annotation.objects.filter(image__dataset=dataset).select_related("image"):
    drawn = stored_strokes(annotation)
    mask = strokes.rasterize(drawn, annotation.image.width, annotation.image.height)
    found = [
        name for name, ok in (
            ("mask", masks.rle_encode(mask) == annotation.mask_rle),
            ("mask_area", int(mask.sum()) == annotation.mask_area),
            ("stroke_count", len(drawn) == annotation.stroke_count),
            ("point_count", not annotation.chunked or sum(len(s["points"]) for s in drawn) == annotation.point_count),
        ) if not ok
    ]
    if found:
        wrong.append(f"annotation {annotation.pk} (version {annotation.version}): {', '.join(found)}")
    stored["annotations"] += 1
    stored["chunked"] += annotation.chunked
revisions = []
for revision in AnnotationRevision.objects.filter(annotation__image__dataset=dataset).select_related(
    "annotation__annotator"
):
    drawn = stored_strokes(revision)
    if revision.chunked and len(drawn) != revision.stroke_count:
        wrong.append(f"revision {revision.pk}: {len(drawn)} strokes read, {revision.stroke_count} kept")
    stored["revisions"] += 1
    content = {"strokes": drawn, "label": revision.label, "text": revision.text, "status": revision.status}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    key = [revision.annotation.annotator.username, revision.annotation.image_id, revision.version]
    revisions.append([*key, hashlib.sha256(canonical.encode()).hexdigest()])
annotations = list(
    Annotation.objects.filter(image__dataset=dataset).values_list("annotator__username", "image_id", "status")
)
submitted = set(
    Assignment.objects.filter(dataset=dataset, status="submitted").values_list("annotator__username", "image_id")
)
print(json.dumps({
    "queue_problems": queue_check(dataset=dataset),
    "wrong": wrong,
    "stored": stored,
    "revisions": revisions,
    "annotations": [[user, image] for user, image, _ in annotations],
    "statuses": Counter(status for _, _, status in annotations),
    "submitted_without_assignment": sum(1 for u, i, s in annotations if s == "submitted" and (u, i) not in submitted),
}))
"""


def _digest(content: dict) -> str:
    """Return the SHA-256 of a document's canonical JSON (as _SERVER_STATE computes it for revisions)."""
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def server_state(stack: Stack, outcome: Outcome) -> dict:
    """Check the database directly: the queue's counters, annotations no client knows it saved, masks, revisions."""
    result = manage("shell", "-c", _SERVER_STATE, env=stack.env, timeout=120)
    state = json.loads(result.stdout.strip().splitlines()[-1])
    queues = dict(zip(stack.usernames, outcome.queues, strict=True))
    believed = {(name, image) for name, queue in queues.items() for image in queue.saved}
    state["unknown"] = sum(1 for user, image in state.pop("annotations") if (user, image) not in believed)
    # Each revision keeps a version as the server stored it: what the client saw acknowledged as that version.
    compared = 0
    for user, image, version, digest in state.pop("revisions"):
        acknowledged = queues[user].history.get(image, {}).get(version)
        if acknowledged is None:
            continue  # a version whose answer this client never heard
        compared += 1
        if _digest(acknowledged) != digest:
            state["wrong"].append(f"{user}, image {image}: revision of version {version} is not what was acknowledged")
    state["stored"]["revisions_compared"] = compared
    if state["submitted_without_assignment"]:
        state["queue_problems"].append(f"{state['submitted_without_assignment']} submitted without an assignment")
    log_text = stack.gunicorn.server.output()
    state["server_statuses"] = dict(Counter(re.findall(r'" (\d{3}) (?:\d+|-) \d+ms "', log_text)))
    state["server_tracebacks"] = log_text.count("Traceback (most recent call last)")
    state["workers_killed"] = log_text.count("was sent SIGKILL") + log_text.count("signal 9")
    return state


def server_cpu(stack: Stack, cluster: Cluster) -> dict[str, float]:
    """Return the CPU seconds used so far by Gunicorn (master and workers) and by Postgres (all its processes).

    What the server costs, whatever else runs on the machine: divided by the requests, it says
    how many a core could serve. Exited processes count through their parent's children times.
    """
    postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
    return {"gunicorn_s": stack.gunicorn.cpu_seconds(), "postgres_s": cpu_seconds(postmaster)}


def machine_of(stack: Stack, config: Config) -> dict:
    workers = config.workers or int(stack.env.get("WEB_CONCURRENCY", 2 * (os.cpu_count() or 1) + 1))
    threads = config.threads or stack.env.get("GUNICORN_THREADS", 4)
    return {**machine(database_url=stack.database_url), "gunicorn": f"{workers} workers x {threads} threads (gthread)"}


# --- The report ------------------------------------------------------------------------------------


def latency_rows(attempts: list[Answer]) -> list[dict]:
    """Return the latency percentiles of the successful attempts of each kind (saves by method too)."""
    rows = []
    kinds = ["next", "open", "file", "save PATCH", "save PUT", "submit PATCH", "submit PUT", "verify"]
    for kind in [*kinds, "all"]:
        times = [(a.end - a.start) * 1000 for a in attempts if a.ok and kind in ("all", a.kind, f"{a.kind} {a.method}")]
        if times:
            p = {f"p{q}": round(percentile(times, q), 1) for q in (50, 90, 99)}
            rows.append({"request": kind, "n": len(times), **p, "max": round(max(times), 1)})
    return rows


def fault_rows(outcome: Outcome) -> list[dict]:
    """For each fault: the attempts that failed after it began (until the next one), and when all recovered."""
    rows = []
    records = outcome.faults
    for index, record in enumerate(records):
        until = records[index + 1].started if index + 1 < len(records) else math.inf
        # The answers the clients dropped on purpose (--lose-answers) happen all along: not the fault's.
        failed = [
            a
            for a in outcome.recorder.attempts
            if not a.ok and a.retryable and a.status != LOST and record.started <= a.end < until
        ]
        recoveries = outcome.recorder.recoveries
        recovered = [end for _, first, end, cause in recoveries if record.started <= first < until and cause != LOST]
        after = [a for a in failed if a.start > record.ended] if record.fault.restarts_postgres else []
        rows.append(
            {
                "fault": str(record.fault),
                "at_s": round(record.started, 1),
                "over_at_s": round(record.ended, 1),
                "failed": dict(Counter(str(a.status) for a in failed)),
                "failed_window_s": round(max(a.end for a in failed) - min(a.end for a in failed), 2) if failed else 0,
                "failed_after_postgres_was_back": len(after),
                "operations_retried": len(recovered),
                "all_recovered_after_s": round(max(recovered) - record.started, 2) if recovered else 0,
                "detail": record.detail,
                "probes": record.probes,
            }
        )
    return rows


def report(outcome: Outcome) -> dict:
    recorder, config = outcome.recorder, outcome.config
    failed = [a for a in recorder.attempts if not a.ok and a.retryable]
    saves = [a for a in recorder.attempts if a.method in ("PUT", "PATCH")]
    return {
        "started": outcome.started,
        "wall_s": round(outcome.wall_s, 1),
        "config": {
            "annotators": config.annotators,
            "duration_s": config.duration,
            "images": config.image_count,
            "annotators_per_image": config.per_image,
            "pause_scale": config.pause_scale,
            "faults": [str(f) for f in config.faults],
            "seed": config.seed,
            "method": config.method,
            "lose_answers": config.lose_answers,
        },
        "machine": outcome.machine,
        "server_cpu_s": outcome.cpu,
        "counts": {
            "requests": len(recorder.attempts),
            "nexts": recorder.counts["nexts"],
            "saves": recorder.counts["saves acknowledged"],
            "submits": recorder.counts["submits acknowledged"],
            "retries": recorder.counts["retries"],
            "retries_by_method": {m: recorder.counts[f"{m} retries"] for m in ("PATCH", "PUT")},
            "save_attempts_by_method": dict(Counter(a.method for a in saves)),
            "answers_lost_on_purpose": sum(1 for a in saves if a.status == LOST),
            "changes_answered_after_no_answer": recorder.counts["changes answered after no answer"],
            "lost_answers_recognised": recorder.counts["lost answers recognised"],
            "failed_attempts": dict(Counter(str(a.status) for a in failed)),
            "operations_retried_to_success": len(recorder.recoveries),
            "errors": len(recorder.errors),
            "verified": outcome.verified,
            "lost_or_different": len(outcome.different),
            "unsent": outcome.unsent,
        },
        "latency_ms": latency_rows(recorder.attempts),
        "faults": fault_rows(outcome),
        "server": outcome.server,
        "errors": recorder.errors[:50],
        "different": outcome.different[:50],
        "failures": outcome.failures(),
        "attempts": [[a.kind, a.method, round(a.start, 3), round(a.end, 3), a.status] for a in recorder.attempts],
        "recoveries": [[kind, round(first, 3), round(end, 3), why] for kind, first, end, why in recorder.recoveries],
    }


def markdown(data: dict, command: str) -> str:
    c, m, n = data["config"], data["machine"], data["counts"]
    faults = ", ".join(c["faults"]) or "none"
    lines = [
        f"Run of {data['started']}: {c['annotators']} annotators for {c['duration_s']:g} s, {c['images']} images "
        f"({c['annotators_per_image'] or 'every'} annotators per image), pause scale {c['pause_scale']:g}, "
        f"faults: {faults}; saves: {c['method'].upper()}, answers lost on purpose: {c['lose_answers']:.0%} of saves.",
        "",
        f"Machine: {m['cpus']} cores ({m['cpu']}), {m['memory_gib']} GiB, {m['os']}, Python {m['python']}, "
        f"PostgreSQL {m['postgres']} (private cluster, default configuration), Gunicorn {m['gunicorn']}; "
        f"load average before the run {' / '.join(str(x) for x in m['load_average'])}.",
        f"Command: `{command}` (wall time {data['wall_s']:g} s with set-up).",
        "",
        "| what | count |",
        "|---|---:|",
        f"| requests | {n['requests']} |",
        f"| `next` | {n['nexts']} |",
        f"| draft saves acknowledged | {n['saves']} |",
        f"| submissions acknowledged | {n['submits']} |",
        f"| save attempts (by method) | {_statuses(n['save_attempts_by_method'])} |",
        f"| failed attempts (by status) | {_statuses(n['failed_attempts'])} |",
        f"| retries (of them saves, by method) | {n['retries']} ({_statuses(n['retries_by_method'])}) |",
        f"| operations retried to success | {n['operations_retried_to_success']} |",
        f"| save answers lost on purpose (stored, never heard) | {n['answers_lost_on_purpose']} |",
        f"| changes sent again after no answer, then answered (op) | {n['changes_answered_after_no_answer']} |",
        f"| saves whose answer was lost, recognised by the 409 | {n['lost_answers_recognised']} |",
        f"| errors (never succeeded, refused, 500, badly shaped 503) | {n['errors']} |",
        f"| annotations read back and compared | {n['verified']} |",
        f"| **lost or different** | **{n['lost_or_different']}** |",
        f"| documents never stored | {n['unsent']} |",
        f"| server: answers by status (Gunicorn's log) | {_statuses(data['server'].get('server_statuses', {}))} |",
        f"| server: queue counters that disagree | {len(data['server'].get('queue_problems', []))} |",
        f"| server: annotations chunked (changed by PATCH) / in all; revisions | {_stored_line(data['server'])} |",
        f"| server: masks, counts or revisions not what the strokes make or was acknowledged "
        f"| {len(data['server'].get('wrong', []))} |",
        f"| server CPU during the run (whatever else ran) | {_cpu_line(data['server_cpu_s'], n['requests'])} |",
        "",
        "| request (successful attempts) | n | p50 ms | p90 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in data["latency_ms"]:
        lines.append(f"| {row['request']} | {row['n']} | {row['p50']} | {row['p90']} | {row['p99']} | {row['max']} |")
    if data["faults"]:
        lines += [
            "",
            "| fault | at s | over at s | failed attempts | first to last failure, s | failed after Postgres was back "
            "| operations retried | all recovered after s |",
            "|---|---:|---:|---|---:|---:|---:|---:|",
        ]
        for row in data["faults"]:
            lines.append(
                f"| {row['fault']} | {row['at_s']} | {row['over_at_s']} | {_statuses(row['failed'])} "
                f"| {row['failed_window_s']} | {row['failed_after_postgres_was_back']} | {row['operations_retried']} "
                f"| {row['all_recovered_after_s']} |"
            )
        lines.append("")
        for row in data["faults"]:
            lines.append(f"- {row['fault']}: {'; '.join([row['detail'], *row['probes']]).strip('; ')}")
    lines += ["", "Result: " + ("PASSED" if not data["failures"] else "FAILED: " + "; ".join(data["failures"][:5]))]
    return "\n".join(lines)


def _cpu_line(cpu: dict, requests: int) -> str:
    gunicorn, postgres = cpu.get("gunicorn_s"), cpu.get("postgres_s")
    if gunicorn is None or not requests:
        return "n/a"
    if postgres is None:
        return (
            f"Gunicorn {gunicorn:g} s ({gunicorn * 1000 / requests:.1f} ms a request); Postgres not counted (restarted)"
        )
    both = (gunicorn + postgres) * 1000 / requests
    return f"Gunicorn {gunicorn:g} s, Postgres {postgres:g} s: {both:.1f} ms a request"


def _stored_line(server: dict) -> str:
    stored = server.get("stored", {})
    chunked = f"{stored.get('chunked', 0)} / {stored.get('annotations', 0)}"
    return f"{chunked}; {stored.get('revisions', 0)} ({stored.get('revisions_compared', 0)} compared)"


def _statuses(counts: dict) -> str:
    return ", ".join(f"{status}: {count}" for status, count in sorted(counts.items())) or "0"


# --- Entry point -----------------------------------------------------------------------------------


def run(config: Config) -> Outcome:
    """Start everything, run the annotators (and faults), verify, stop everything; return what happened."""
    wall = time.monotonic()
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    import_args = ["--choices", "real,fake", "--require", "choice,mask"]
    if config.per_image:
        import_args += ["--annotators-per-image", str(config.per_image)]
    env = dict(config.env)
    if config.workers:
        env["WEB_CONCURRENCY"] = str(config.workers)
    if config.threads:
        env["GUNICORN_THREADS"] = str(config.threads)
    with (
        private_cluster(log=log) as cluster,
        running_stack(
            images=config.image_count,
            annotators=config.annotators,
            side=config.side,
            server_url=cluster.url,
            database_name=config.database_name,
            import_args=tuple(import_args),
            env=env,
            log=log,
        ) as stack,
    ):
        host = machine_of(stack, config)
        recorder = Recorder()
        cpu_before = server_cpu(stack, cluster)
        outcome = asyncio.run(simulate(config, stack, cluster, recorder))
        cpu_after = server_cpu(stack, cluster)
        outcome.cpu = {name: round(cpu_after[name] - cpu_before[name], 1) for name in cpu_before}
        if any(f.restarts_postgres for f in config.faults):
            outcome.cpu["postgres_s"] = None  # the servers before a restart are gone, their CPU uncounted
        outcome.machine = host
        log("Checking the database: queue counters, annotations no client knows of")
        outcome.server = server_state(stack, outcome)
        outcome.started = started
        outcome.wall_s = time.monotonic() - wall
    return outcome


def parse_args(argv=None) -> tuple[Config, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--annotators", type=int, default=100, help="Simulated annotators (default 100).")
    parser.add_argument("--duration", type=float, default=60.0, help="Seconds they work (default 60).")
    parser.add_argument("--images", type=int, help="Images in the dataset (default 6 per annotator, at least 20).")
    parser.add_argument("--per-image", type=int, default=3, help="Annotators wanted per image; 0: everyone sees all.")
    parser.add_argument("--side", type=int, default=512, help="Image side in pixels (default 512).")
    parser.add_argument(
        "--pause-scale", type=float, default=1.0, help="Multiply the pauses and drawing times (default 1)."
    )
    parser.add_argument("--faults", action="store_true", help="Inject the default faults (see above).")
    parser.add_argument(
        "--method",
        choices=["patch", "put"],
        default="patch",
        help="patch (default): save as the app does, a change since the acknowledged version; put: whole documents.",
    )
    parser.add_argument(
        "--lose-answers",
        type=float,
        help=f"Share of saves whose answer the client drops after the server stored it (default "
        f"{FAULTS_LOSE_ANSWERS:g} with faults, else 0).",
    )
    parser.add_argument("--fault", action="append", default=[], help="KIND@SECONDS, repeatable (implies faults).")
    parser.add_argument("--workers", type=int, help="Gunicorn workers (default: deploy/gunicorn.conf.py's).")
    parser.add_argument("--threads", type=int, help="Threads per Gunicorn worker (default 4).")
    parser.add_argument("--drain-timeout", type=float, default=90.0, help="Most seconds to send what is queued.")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="Write every figure to this file.")
    args = parser.parse_args(argv)
    try:
        faults = [Fault.parse(text) for text in args.fault] or (default_faults(args.duration) if args.faults else [])
    except ValueError as error:
        parser.error(str(error))
    late = [str(f) for f in faults if f.at + f.seconds >= args.duration]
    if late:
        parser.error(f"faults must be over before the run ends ({args.duration:g} s): {', '.join(late)}")
    if args.annotators < 1 or args.duration <= 0:
        parser.error("--annotators and --duration must be positive")
    lose_answers = args.lose_answers if args.lose_answers is not None else FAULTS_LOSE_ANSWERS if faults else 0.0
    if not 0 <= lose_answers < 1:
        parser.error(f"--lose-answers is a share from 0 to below 1; got {lose_answers:g}")
    config = Config(
        annotators=args.annotators,
        duration=args.duration,
        images=args.images,
        per_image=args.per_image or None,
        side=args.side,
        pause_scale=args.pause_scale,
        faults=faults,
        seed=args.seed,
        drain_timeout=args.drain_timeout,
        workers=args.workers,
        threads=args.threads,
        method=args.method,
        lose_answers=lose_answers,
    )
    return config, args


def main(argv=None) -> int:
    config, args = parse_args(argv)
    # A hard bound whatever happens: set-up, the run, draining, verifying. SIGTERM and the alarm
    # unwind through every `finally`, so Gunicorn and the private cluster are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGALRM, lambda *_: sys.exit("the run exceeded its time bound"))
    signal.alarm(int(900 + config.duration + config.drain_timeout + 120))
    outcome = run(config)
    signal.alarm(0)
    data = report(outcome)
    if args.json:
        args.json.write_text(json.dumps(data, indent=2))
    command = "bench/load_annotators.py " + " ".join(sys.argv[1:] if argv is None else argv)
    print(markdown(data, command.strip()))
    for problem in data["failures"]:
        log(f"FAILED: {problem}")
    log("PASSED" if not data["failures"] else f"FAILED ({len(data['failures'])} problems)")
    return 1 if data["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
