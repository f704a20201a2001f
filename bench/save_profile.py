#!/usr/bin/env python
"""Profile one save, PUT or PATCH /api/images/{id}/annotation/, in-process: where its time goes, and its queries.

Builds a scratch PostgreSQL database (dropped afterwards), imports a few generated 512x512
images, creates an annotator with a token, then sends the save client's requests of
bench/save_load.py (the same documents and sequence: a new draft, text typed, a stroke redrawn,
the submission) through Django's whole request stack with its test client (middleware, token
authentication, DRF, the service, the response), DEBUG off. ``--method patch`` sends them as
save_load's ``patch`` target does (the change alone: the first creates the draft with its
strokes, then the text, or ``remove: 1`` and the redrawn stroke, then the answer and the
submission). It prints the CPU per save by kind, this process's and the PostgreSQL backend's
(read from /proc), with ``next`` and the opening GET of each image (one each per
--saves-per-image saves) timed as kinds of their own, the queries of each kind, and, by
--mode, the steps' CPU or cProfile's top functions over all timed saves.

    .venv/bin/python bench/save_profile.py --saves 200
    .venv/bin/python bench/save_profile.py --method patch --saves 400 --mode time
"""

import argparse
import cProfile
import functools
import gc
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.helpers import log, percentile  # noqa: E402
from bench.save_growth import CpuMeter  # noqa: E402
from bench.save_load import CEILING_TABLE_SQL, CLIENT_INFO, Documents, body, patch_body  # noqa: E402  (the repository root is on the path first)
from bench.stack import in_scratch_database, write_images  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--saves", type=int, default=200, help="Timed saves (default 200).")
    parser.add_argument("--saves-per-image", type=int, default=10)
    parser.add_argument("--server-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database-name", default="eyetagger_bench_save_profile")
    parser.add_argument("--top", type=int, default=40, help="Functions listed by cProfile (default 40).")
    parser.add_argument(
        "--method",
        choices=["put", "patch"],
        default="put",
        help="put: the whole document each save (default); patch: the change alone, as save_load's patch target.",
    )
    parser.add_argument(
        "--mode",
        choices=["phases", "cprofile", "time"],
        default="phases",
        help="phases: CPU ms per save inside the main steps of the save path (default); cprofile: cProfile's "
        "top functions (it slows Python down unevenly); time: only the totals.",
    )
    parser.add_argument(
        "--kinds",
        nargs="+",
        choices=["next", "open", "create", "type, 1st", "type", "redraw", "submit"],
        help="Profile (cprofile, phases) only these kinds of request; the times still cover them all.",
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
            ("validate the change (serializer)", serializers.AnnotationChangeSerializer, "is_valid"),
            ("Annotation.full_clean", Annotation, "full_clean"),
            ("Annotation.save", Annotation, "save"),
            ("commit", BaseDatabaseWrapper, "commit"),
            ("AnnotationSerializer.to_representation", serializers.AnnotationSerializer, "to_representation"),
            (
                "AnnotationSummarySerializer.to_representation",
                serializers.AnnotationSummarySerializer,
                "to_representation",
            ),
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


def time_ceiling(client, requests: int, meter) -> tuple[list[float], float]:
    """Return the CPU ms of each of ``requests`` calls of the ceiling endpoint (after a few untimed ones),
    and the PostgreSQL backend's CPU ms per call."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(CEILING_TABLE_SQL)
    cpu, pg_started = [], 0.0
    for k in range(requests + 20):
        if k == 20:
            pg_started = meter.backend()
        started = time.process_time()
        response = client.post("/api/bench/ceiling/", {"value": k}, content_type="application/json")
        if response.status_code != 201:
            raise SystemExit(f"ceiling failed: {response.status_code} {response.content[:300]!r}")
        if k >= 20:
            cpu.append((time.process_time() - started) * 1000)
    return cpu, (meter.backend() - pg_started) * 1000 / requests


def backend_pid(connection) -> int:
    """Return the process id of the PostgreSQL backend serving this process's connection."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def report_times(timed, saves: int, ceiling, queries: dict[str, list[str]]) -> None:
    """Print the CPU per request of each kind and per save (next and open included), and the queries."""
    wall, cpu, pg = timed
    print(
        "\nMilliseconds per request: wall (median, p95); CPU of this process (median, mean); PostgreSQL's CPU "
        "(mean; /proc ticks of 10 ms, so a mean over many); n"
    )
    for kind in wall:
        print(
            f"  {kind:<10} {statistics.median(wall[kind]):7.2f} {percentile(wall[kind], 95):7.2f} "
            f"{statistics.median(cpu[kind]):7.2f} {statistics.fmean(cpu[kind]):7.2f} "
            f"{statistics.fmean(pg[kind]):7.2f} {len(wall[kind]):5d}"
        )
    django_ms = sum(sum(v) for v in cpu.values()) / saves
    pg_ms = sum(sum(v) for v in pg.values()) / saves
    print(
        f"  per save, next and open included: CPU {django_ms:.2f} ms here + {pg_ms:.2f} ms in PostgreSQL = "
        f"{django_ms + pg_ms:.2f} ms ({saves} saves)"
    )
    print("\nQueries per request (one of each kind):")
    for kind, sqls in queries.items():
        print(f"  {kind}: {len(sqls)}")
        for sql in sqls:
            print(f"      {sql}")
    times, ceiling_pg = ceiling
    ceiling_ms = statistics.fmean(times) + ceiling_pg
    print(
        f"\nThe ceiling (POST /api/bench/ceiling/, one row), CPU ms per request: median "
        f"{statistics.median(times):.2f}, mean {statistics.fmean(times):.2f} + {ceiling_pg:.2f} in PostgreSQL; "
        f"save / ceiling by CPU (both sides): {ceiling_ms / (django_ms + pg_ms):.2f}"
    )


def main() -> int:
    args = parse_args()
    with in_scratch_database(args.server_url, args.database_name, "eyetagger-save-profile-") as (url, tmp):
        return run(args, url, tmp)


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

    def requests():
        """Yield (kind, image id, save) as bench/save_load.py's client sends them: next, open, then the saves.

        ``save`` is (the fields but the strokes, the strokes, the change a PATCH sends), the version
        filled in when sent; None for next and open.
        """
        while True:
            yield "next", None, None
            image = handout_image
            yield "open", image, None
            strokes, alternatives = (list(part) for part in documents.pick())
            text, alternative = "", 0
            for k in range(args.saves_per_image):
                last = k == args.saves_per_image - 1
                kind = "create" if k == 0 else "submit" if last else "redraw" if k % 3 == 2 else "type"
                change = {"remove": 0, "append": strokes if k == 0 else []}
                if kind == "redraw":
                    alternative = (alternative + 1) % len(alternatives)
                    strokes = strokes[:-1] + [alternatives[alternative]]
                    change = {"remove": 1, "append": strokes[-1:]}
                elif kind == "type":
                    text += f" word{k}"
                    change["text"] = text.strip()
                    kind = "type, 1st" if k == 1 else kind  # the first change after the create (PATCH: moves to chunks)
                rest = {
                    "label": "real" if last else None,
                    "text": text.strip(),
                    "status": "submitted" if last else "draft",
                    "active_ms": 4000 + 1000 * k,
                    "started_at": "2026-11-25T10:00:00Z",
                    "client": CLIENT_INFO,
                }
                if last:
                    change.update(label="real", status="submitted")
                yield kind, image, (rest, strokes, change)

    log("Warming up")
    stream = requests()
    version = 0
    handout_image = None
    meter = CpuMeter(backend_pid(connection))

    def call(kind, image, save):
        """Send one request of the stream; return its answer."""
        nonlocal version, handout_image
        if kind == "next":
            return client.get(f"/api/datasets/{dataset.pk}/next/")
        path = f"/api/images/{image}/annotation/"
        if kind == "open":
            return client.get(path)
        rest, strokes, change = save
        rest["version"] = version
        if args.method == "patch":
            data = patch_body(change, {**rest, "op": f"p-{image}-{version}"}, first=kind == "create")
            return client.patch(path, data, content_type="application/json")
        # As the app's whole-document saves ask: the answer without the strokes just sent.
        return client.put(
            path, body(strokes, rest), content_type="application/json", headers={"Prefer": "return=minimal"}
        )

    def send(kind, image, save, timed=None):
        """Send; with ``timed`` (kind -> lists), add the request's wall, CPU and PostgreSQL CPU ms."""
        nonlocal version, handout_image
        started, cpu_started, pg_started = time.perf_counter(), time.process_time(), meter.backend()
        profiled = args.kinds is None or kind in args.kinds
        if profiler and profiled:
            profiler.enable()
        if phases and profiled:
            phases.recording = True
        response = call(kind, image, save)
        if profiler:
            profiler.disable()
        if phases:
            phases.recording = False
        if timed:
            timed[0].setdefault(kind, []).append((time.perf_counter() - started) * 1000)
            timed[1].setdefault(kind, []).append((time.process_time() - cpu_started) * 1000)
            timed[2].setdefault(kind, []).append((meter.backend() - pg_started) * 1000)
        if response.status_code not in (200, 201):
            raise SystemExit(f"{kind} failed: {response.status_code} {response.content[:300]!r}")
        answer = response.json()
        if kind == "next":
            handout_image = answer["image"]["id"]
        else:
            version = answer["version"]

    profiler = phases = None
    # What Gunicorn imports, after this process's own set-up, so that what it does with the objects
    # loaded so far (it freezes them out of the garbage collector's way) applies to them here too.
    import backend.wsgi  # noqa: F401

    # The queries of one request of each kind, in a pass of their own (capturing them keeps objects around).
    queries: dict[str, list[str]] = {}
    while len(queries) < 7:
        request = next(stream)
        with CaptureQueriesContext(connection) as captured:
            send(*request)
        queries.setdefault(request[0], [q["sql"][:160] for q in captured.captured_queries])
    for _ in range(2 * (args.saves_per_image + 2)):
        send(*next(stream))
    gc.collect()  # the set-up's garbage, not the saves'
    ceiling = time_ceiling(client, args.saves, meter)
    log(f"Timing {args.saves} saves ({args.method.upper()}), with their next and open")
    timed: tuple[dict[str, list[float]], ...] = ({}, {}, {})
    # CPU time, not wall time: the machine is shared, and waiting for another process is not our cost.
    profiler = cProfile.Profile(time.process_time) if args.mode == "cprofile" else None
    phases = Phases() if args.mode == "phases" else None
    saves = 0
    while saves < args.saves:
        request = next(stream)
        send(*request, timed=timed)
        saves += request[0] not in ("next", "open")
    report_times(timed, saves, ceiling, queries)
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
