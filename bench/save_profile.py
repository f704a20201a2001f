#!/usr/bin/env python
"""Profile one save, PUT /api/images/{id}/annotation/, in-process: where its time goes, and its queries.

Builds a scratch PostgreSQL database (dropped afterwards), imports a few generated 512x512
images, creates an annotator with a token, then sends the save client's requests of
bench/save_load.py (the same documents and sequence: a new draft, text typed, a stroke redrawn,
the submission) through Django's whole request stack with its test client (middleware, token
authentication, DRF, the service, the response), DEBUG off. It prints the time per save by kind
(medians), the queries of each kind, and cProfile's top functions over all timed saves.

    .venv/bin/python bench/save_profile.py --saves 200
"""

import argparse
import cProfile
import functools
import gc
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.helpers import log, percentile  # noqa: E402
from bench.save_load import CEILING_TABLE_SQL, CLIENT_INFO, Documents, body  # noqa: E402  (the repository root is on the path first)
from bench.stack import _create_database, _drop_database, write_images  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--saves", type=int, default=200, help="Timed saves (default 200).")
    parser.add_argument("--saves-per-image", type=int, default=10)
    parser.add_argument("--server-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database-name", default="eyetagger_bench_save_profile")
    parser.add_argument("--top", type=int, default=40, help="Functions listed by cProfile (default 40).")
    parser.add_argument(
        "--mode",
        choices=["phases", "cprofile", "time"],
        default="phases",
        help="phases: CPU ms per save inside the main steps of the save path (default); cprofile: cProfile's "
        "top functions (it slows Python down unevenly); time: only the totals.",
    )
    return parser.parse_args()


class Phases:
    """CPU time spent in each step of the save path, each call timed; a step's time includes the steps inside it.

    EyeTagger's steps are those its code marks for this (backend/api/tracing.py); Django's and REST
    framework's are public methods of theirs, wrapped here. Steps are listed in the order they
    first ran, indented by how deep they ran.
    """

    def __init__(self):
        from django.db.backends.base.base import BaseDatabaseWrapper
        from rest_framework.authentication import TokenAuthentication
        from rest_framework.renderers import JSONRenderer

        from backend.api import serializers, tracing
        from backend.api.models import Annotation
        from backend.api.parsers import LimitedJSONParser
        from backend.api.views.images import ImageViewSet

        self.spent: dict[str, float] = {}
        self.depth_of: dict[str, int] = {}
        self.depth = 0
        self.recording = False  # only inside the timed saves, not the calls to next between them
        for name, owner, attribute in [
            ("the whole view (dispatch)", ImageViewSet, "dispatch"),
            ("authenticate (token, user)", TokenAuthentication, "authenticate"),
            ("get_object (the image)", ImageViewSet, "get_object"),
            ("parse the body (JSON)", LimitedJSONParser, "parse"),
            ("validate the document (serializer)", serializers.AnnotationWriteSerializer, "is_valid"),
            ("Annotation.full_clean", Annotation, "full_clean"),
            ("Annotation.save", Annotation, "save"),
            ("commit", BaseDatabaseWrapper, "commit"),
            ("AnnotationSerializer.to_representation", serializers.AnnotationSerializer, "to_representation"),
            ("JSONRenderer.render", JSONRenderer, "render"),
        ]:
            setattr(owner, attribute, self._wrapped(name, getattr(owner, attribute)))
        tracing.install(self.step)
        # The garbage collector runs inside whatever step allocates when it triggers: count it apart.
        self.collections = [[0, 0.0] for _ in range(3)]
        self._gc_started = 0.0
        gc.callbacks.append(self._gc)

    def step(self, name: str, run):
        """Run one step, adding its CPU time to its name's while recording."""
        if not self.recording:
            return run()
        self.depth_of.setdefault(name, self.depth)
        self.depth += 1
        started = time.process_time()
        try:
            return run()
        finally:
            self.spent[name] = self.spent.get(name, 0.0) + time.process_time() - started
            self.depth -= 1

    def _wrapped(self, name: str, function):
        @functools.wraps(function)
        def timed(*args, **kwargs):
            return self.step(name, lambda: function(*args, **kwargs))

        return timed

    def _gc(self, phase, info):
        if phase == "start":
            self._gc_started = time.process_time()
        else:
            counted = self.collections[info["generation"]]
            counted[0] += 1
            counted[1] += time.process_time() - self._gc_started

    def report(self, saves: int) -> None:
        print("\nCPU ms per save inside each step (nested steps are part of the one above them):")
        for name, depth in self.depth_of.items():
            print(f"  {'  ' * depth + name:<55} {self.spent[name] / saves * 1000:7.2f}")
        print(
            f"Garbage collections per save, and their CPU ms per save, by generation "
            f"({len(gc.get_objects())} objects tracked, {gc.get_freeze_count()} frozen):"
        )
        for generation, (count, seconds) in enumerate(self.collections):
            print(f"  generation {generation}: {count / saves:6.2f} collections, {seconds / saves * 1000:7.2f} ms")
        started = time.process_time()
        gc.collect()
        print(f"  (one full collection now: {(time.process_time() - started) * 1000:.2f} ms)")


def time_ceiling(client, requests: int) -> list[float]:
    """Return the CPU ms of each of ``requests`` calls of the ceiling endpoint (after a few untimed ones)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(CEILING_TABLE_SQL)
    cpu = []
    for k in range(requests + 20):
        started = time.process_time()
        response = client.post("/api/bench/ceiling/", {"value": k}, content_type="application/json")
        if response.status_code != 201:
            raise SystemExit(f"ceiling failed: {response.status_code} {response.content[:300]!r}")
        if k >= 20:
            cpu.append((time.process_time() - started) * 1000)
    return cpu


def main() -> int:
    args = parse_args()
    log(f"Creating database {args.database_name}")
    url = _create_database(args.server_url, args.database_name)
    try:
        with tempfile.TemporaryDirectory(prefix="eyetagger-save-profile-") as tmp:
            return run(args, url, Path(tmp))
    finally:
        log(f"Dropping database {args.database_name}")
        from django.db import connections

        connections.close_all()
        _drop_database(args.server_url, args.database_name)


def run(args, url: str, tmp: Path) -> int:
    os.environ.update(
        {
            "DATABASE_URL": url,
            "DEBUG": "false",
            "SECRET_KEY": "profile-only-not-secret",
            "ALLOWED_HOSTS": "testserver",
            "DATASET_ROOT": str(tmp),
            "SECURE_SSL_REDIRECT": "false",
            "EYETAGGER_ENV_FILES": "",
            # EyeTagger's settings with the benchmark's ceiling endpoint added, as bench/save_load.py runs it.
            "DJANGO_SETTINGS_MODULE": "bench.ceiling_settings",
        }
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from backend.api import services
    from backend.api.models import Role
    from backend.api.services import api_token_create

    log("Migrating")
    call_command("migrate", verbosity=0)
    images = args.saves // args.saves_per_image + 6  # the timed saves, the warm-up and the queries pass
    folder = write_images(tmp / "bench", images, 512)
    dataset = services.dataset_import(folder=folder, name="Profile", choices=["real", "fake"], require_choice=True)
    dataset = dataset.dataset
    user = services.user_create(username="profiler", password="x" * 16, role=Role.ANNOTATOR)
    client = Client(HTTP_AUTHORIZATION=f"Token {api_token_create(user=user).key}")
    documents = Documents(seed=11)

    def saves():
        """Yield (kind, image id, body) as bench/save_load.py's client sends them, the version filled in later."""
        while True:
            handout = client.get(f"/api/datasets/{dataset.pk}/next/").json()
            image = handout["image"]["id"]
            strokes, alternatives = (list(part) for part in documents.pick())
            text, alternative = "", 0
            for k in range(args.saves_per_image):
                last = k == args.saves_per_image - 1
                kind = "create" if k == 0 else "submit" if last else "redraw" if k % 3 == 2 else "type"
                if kind == "redraw":
                    alternative = (alternative + 1) % len(alternatives)
                    strokes = strokes[:-1] + [alternatives[alternative]]
                elif kind == "type":
                    text += f" word{k}"
                rest = {
                    "label": "real" if last else None,
                    "text": text.strip(),
                    "status": "submitted" if last else "draft",
                    "active_ms": 4000 + 1000 * k,
                    "started_at": "2026-11-25T10:00:00Z",
                    "client": CLIENT_INFO,
                }
                yield kind, image, rest, strokes

    log("Warming up")
    stream = saves()
    version = 0

    def send(kind, image, rest, strokes, timed=None):
        """Save; with ``timed`` (kind -> lists), add the save's wall and CPU ms (the request only)."""
        nonlocal version
        if kind == "create":
            version = 0
        rest["version"] = version
        document = body(strokes, rest)
        started, cpu_started = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        if phases:
            phases.recording = True
        response = client.put(
            f"/api/images/{image}/annotation/",
            document,
            content_type="application/json",
            headers={"Prefer": "return=minimal"},  # as the app's saves ask
        )
        if profiler:
            profiler.disable()
        if phases:
            phases.recording = False
        if timed:
            timed[0].setdefault(kind, []).append((time.perf_counter() - started) * 1000)
            timed[1].setdefault(kind, []).append((time.process_time() - cpu_started) * 1000)
        if response.status_code not in (200, 201):
            raise SystemExit(f"save failed: {response.status_code} {response.content[:300]!r}")
        version = response.json()["version"]

    profiler = phases = None
    # What Gunicorn imports, after this process's own set-up, so that what it does with the objects
    # loaded so far (it freezes them out of the garbage collector's way) applies to them here too.
    import backend.wsgi  # noqa: F401

    # The queries of one save of each kind, in a pass of their own (capturing them keeps objects around).
    queries: dict[str, list[str]] = {}
    while len(queries) < 4:
        kind, image, rest, strokes = next(stream)
        with CaptureQueriesContext(connection) as captured:
            send(kind, image, rest, strokes)
        queries.setdefault(kind, [q["sql"][:160] for q in captured.captured_queries])
    for _ in range(2 * args.saves_per_image):
        send(*next(stream))
    gc.collect()  # the set-up's garbage, not the saves'
    ceiling = time_ceiling(client, args.saves)
    log(f"Timing {args.saves} saves")
    times: dict[str, list[float]] = {}
    cpu_times: dict[str, list[float]] = {}
    # CPU time, not wall time: the machine is shared, and waiting for another process is not our cost.
    profiler = cProfile.Profile(time.process_time) if args.mode == "cprofile" else None
    phases = Phases() if args.mode == "phases" else None
    for _ in range(args.saves):
        send(*next(stream), timed=(times, cpu_times))
    print("\nMilliseconds per save: wall (median, p95), CPU of this process (median, mean), n")
    for kind in [*times, "all"]:
        wall = times[kind] if kind != "all" else [t for v in times.values() for t in v]
        cpu = cpu_times[kind] if kind != "all" else [t for v in cpu_times.values() for t in v]
        p95 = percentile(wall, 95)
        print(
            f"  {kind:<7} {statistics.median(wall):7.2f} {p95:7.2f} {statistics.median(cpu):7.2f} "
            f"{statistics.fmean(cpu):7.2f} {len(wall):5d}"
        )
    print("\nQueries per save (one save of each kind):")
    for kind, sqls in queries.items():
        print(f"  {kind}: {len(sqls)}")
        for sql in sqls:
            print(f"      {sql}")
    everything = [t for v in cpu_times.values() for t in v]
    print(
        f"\nThe ceiling (POST /api/bench/ceiling/, one row), CPU ms per request: median "
        f"{statistics.median(ceiling):.2f}, mean {statistics.fmean(ceiling):.2f}; "
        f"save / ceiling by mean CPU: {statistics.fmean(ceiling) / statistics.fmean(everything):.2f}"
    )
    if phases:
        phases.report(args.saves)
    if profiler:
        print()
        stats = pstats.Stats(profiler).strip_dirs()
        stats.sort_stats("cumulative").print_stats(args.top)
        stats.sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
