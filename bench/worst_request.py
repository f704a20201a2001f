#!/usr/bin/env python
"""The worst request: how long the largest valid document holds a server worker, before and after the ink budget.

Issue 16's largest valid document: 12 brush strokes of 20,000 points, 512 px wide, on a 4096x4096
image (random walks over the image, rounded as the app rounds points). Builds a scratch PostgreSQL
database (dropped afterwards), imports one such image, and sends the document through Django's
whole request stack (its test client, DEBUG off) two ways:

- **before**: as the app sent a change over the ink budget until now, one whole-document PUT,
  with the PUT's ink budget lifted (what the server did before it had one);
- **as the app sends it now**: each stroke cut where its ink passes the budget (as
  src/canvas/drawing.js cuts it while it is drawn), then the parts the sync queue sends
  (src/document.js partToSend): with nothing acknowledged yet (a reload), a PUT of the strokes
  that fit, then a PATCH of the longest run of the rest that fits, and so on; then three undos
  and their redos, an undo and the whole document PUT again (the last part of a client that only
  PUTs, as a study participant's page does), and the page load (GET).

Each request's CPU time is this process's CPU time plus that of the PostgreSQL backend serving it
(from /proc): what it costs the machine whatever else runs on it. It prints the longest single
request of each way, medians over the runs.

    .venv/bin/python bench/worst_request.py --runs 3 --before-runs 1
"""

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.helpers import describe, log, machine  # noqa: E402  (the repository root is on the path first)
from bench.save_growth import CpuMeter, setup_django  # noqa: E402
from bench.stack import in_scratch_database, write_images  # noqa: E402

SIDE = 4096
STROKES = 12
POINTS = 20_000
WIDTH = 512.0


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="Times the document is sent as the app sends it.")
    parser.add_argument("--before-runs", type=int, default=1, help="Times it is sent as one PUT, unbudgeted.")
    parser.add_argument("--server-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database-name", default="eyetagger_ink_bench")
    parser.add_argument("--seed", type=int, default=16)
    return parser.parse_args()


def largest_document(rng) -> list[dict]:
    """Return the issue's largest valid document: 12 random walks of 20,000 points, 512 px wide."""
    strokes = []
    for k in range(STROKES):
        start = rng.uniform(0, SIDE, size=2)
        walk = np.mod(start + np.cumsum(rng.normal(0, 40.0, size=(POINTS, 2)), axis=0), SIDE)
        times = np.round(1000.0 * k + np.cumsum(rng.uniform(4, 20, size=POINTS)), 1)
        points = [
            [round(float(x), 3), round(float(y), 3), float(t), 0.5] for (x, y), t in zip(walk, times, strict=True)
        ]
        strokes.append({"tool": "brush", "width": WIDTH, "points": points})
    return strokes


def segment_inks(stroke: dict) -> np.ndarray:
    """Return the ink of each segment of a brush stroke (the rows its capsule crosses), as ``strokes.ink`` counts."""
    ys = np.asarray(stroke["points"], dtype=np.float64)[:, 1]
    r = stroke["width"] / 2.0
    lo, hi = np.minimum(ys[:-1], ys[1:]) - r, np.maximum(ys[:-1], ys[1:]) + r
    first = np.maximum(np.ceil(lo - 0.5), 0)
    last = np.minimum(np.floor(hi - 0.5), SIDE - 1)
    return np.maximum(last - first + 1, 0).astype(np.int64)


def cut_as_drawn(stroke: dict, max_ink: int) -> list[dict]:
    """Return the stroke cut as the canvas cuts it while drawing: a new stroke from the same point where its
    ink would pass the budget."""
    points = stroke["points"]
    pieces, begin, held = [], 0, 0
    for k, segment in enumerate(segment_inks(stroke).tolist()):  # segment k joins points k and k + 1
        if held + segment > max_ink:
            pieces.append({**stroke, "points": points[begin : k + 1]})
            begin, held = k, 0
        held += segment
    pieces.append({**stroke, "points": points[begin:]})
    return pieces


def parts(strokes: list[dict], max_ink: int, ink) -> list[list[dict]]:
    """Return the runs of strokes the sync queue sends one request each: as many as fit the budget (at least one)."""
    runs, current, held = [], [], 0
    for stroke in strokes:
        cost = ink([stroke], SIDE, SIDE)
        if current and held + cost > max_ink:
            runs.append(current)
            current, held = [], 0
        current.append(stroke)
        held += cost
    runs.append(current)
    return runs


class Annotation:
    """One annotator's annotation of the image, saved as a client saves it; every request's CPU ms is kept."""

    def __init__(self, client, image_id: int, meter: CpuMeter):
        self.client, self.meter = client, meter
        self.url = f"/api/images/{image_id}/annotation/"
        self.version = 0
        self.ms: list[tuple[str, float]] = []

    def _timed(self, kind: str, send) -> dict:
        started = self.meter.now()
        response = send()
        self.ms.append((kind, (self.meter.now() - started) * 1000))
        if response.status_code not in (200, 201):
            raise SystemExit(f"{kind} failed: {response.status_code} {response.content[:300]!r}")
        return response.json()

    def put(self, strokes: list[dict], kind: str = "PUT") -> None:
        body = json.dumps({"strokes": strokes, "label": None, "text": "", "status": "draft", "version": self.version})
        put = lambda: self.client.put(  # noqa: E731
            self.url, body, content_type="application/json", headers={"Prefer": "return=minimal"}
        )
        self.version = self._timed(kind, put)["version"]

    def patch(self, append: list[dict], remove: int = 0) -> None:
        body = json.dumps({"version": self.version, "remove": remove, "append": append, "op": f"op-{self.version}"})
        kind = "PATCH undo" if remove else "PATCH"
        self.version = self._timed(kind, lambda: self.client.patch(self.url, body, content_type="application/json"))[
            "version"
        ]

    def load(self) -> int:
        return len(self._timed("GET", lambda: self.client.get(self.url))["strokes"])


def run(args, url: str, tmp: Path) -> int:
    setup_django(url, tmp)
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from backend.api import services
    from backend.api import strokes as strokes_mod
    from backend.api.models import Role

    log("Migrating")
    call_command("migrate", verbosity=0)
    folder = write_images(tmp / "bench", 1, SIDE)
    dataset = services.dataset_import(folder=folder, name="Worst", choices=["real", "fake"]).dataset
    dataset.annotators_per_image = None
    dataset.save()
    max_ink = strokes_mod.DEFAULT_LIMITS.max_ink
    document = largest_document(np.random.default_rng(args.seed))
    total_ink = strokes_mod.ink(document, SIDE, SIDE)
    drawn = [piece for stroke in document for piece in cut_as_drawn(stroke, max_ink)]
    runs_of = parts(drawn, max_ink, strokes_mod.ink)
    log(
        f"The document: {STROKES} strokes, {STROKES * POINTS:,} points, {total_ink:,} units of ink; as drawn "
        f"{len(drawn)} strokes, {sum(len(s['points']) for s in drawn):,} points, sent in {len(runs_of)} requests"
    )
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        meter = CpuMeter(cursor.fetchone()[0])

    def annotator(name: str) -> Annotation:
        user = services.user_create(username=name, password="x" * 16, role=Role.ANNOTATOR)
        client = Client(HTTP_AUTHORIZATION=f"Token {services.api_token_create(user=user).key}")
        image_id = client.get(f"/api/datasets/{dataset.pk}/next/").json()["image"]["id"]
        return Annotation(client, image_id, meter)

    before, after = [], []
    for k in range(max(args.runs, args.before_runs)):
        if k < args.runs:
            log(f"As the app sends it, run {k + 1}/{args.runs}")
            annotation = annotator(f"app{k}")
            annotation.put(runs_of[0])
            for run_ in runs_of[1:]:
                annotation.patch(run_)
            for _ in range(3):
                annotation.patch([], remove=1)
            for stroke in drawn[-3:]:
                annotation.patch([stroke])
            # What a client that only PUTs (a study participant) sends as its last part: the whole document again.
            annotation.patch([], remove=1)
            annotation.put(drawn, kind="PUT whole")
            if annotation.load() != len(drawn):
                raise SystemExit("the document read back is not the one sent")
            after.append(annotation.ms)
            log(summary(annotation.ms))
        if k < args.before_runs:
            log(f"Before: one whole PUT, unbudgeted, run {k + 1}/{args.before_runs}")
            annotation = annotator(f"whole{k}")
            strokes_mod.DEFAULT_LIMITS = strokes_mod.Limits(max_ink=10**12)
            try:
                annotation.put(document)
            finally:
                strokes_mod.DEFAULT_LIMITS = strokes_mod.Limits()
            before.append(annotation.ms)
            log(summary(annotation.ms))
    print(report(args, before, after, total_ink, drawn, runs_of, machine(database_url=url)))
    return 0


def summary(ms: list[tuple[str, float]]) -> str:
    kinds = sorted({kind for kind, _ in ms})
    return "; ".join(
        f"{kind}: {sum(1 for k, _ in ms if k == kind)} requests, longest {max(v for k, v in ms if k == kind):,.0f} ms, "
        f"median {statistics.median(v for k, v in ms if k == kind):,.0f} ms"
        for kind in kinds
    )


def report(args, before, after, total_ink, drawn, runs_of, host) -> str:
    median = statistics.median
    lines = [
        f"Machine: {describe(host)}. Command: `.venv/bin/python bench/worst_request.py {' '.join(sys.argv[1:])}`",
        f"The document: {STROKES} strokes x {POINTS:,} points, width {WIDTH:g}, on {SIDE}x{SIDE}: "
        f"{total_ink:,} units of ink; cut as drawn into {len(drawn)} strokes, sent in {len(runs_of)} saves.",
        "CPU ms per request (Django + its PostgreSQL backend); medians over runs.",
        "",
        "| way | requests | longest request | median request | all requests |",
        "|---|---:|---:|---:|---:|",
    ]
    if before:
        whole = [ms[0][1] for ms in before]
        lines.append(f"| before: one PUT, unbudgeted ({len(before)} runs) | 1 | {median(whole):,.0f} | | |")
    if after:
        # The annotation app's requests; "PUT whole" is what a client that only PUTs sends instead.
        app = [[v for k, v in ms if k != "PUT whole"] for ms in after]
        lines.append(
            f"| as the app sends it ({len(after)} runs) | {len(app[0])} | {median(max(v) for v in app):,.0f} | "
            f"{median(median(v) for v in app):,.0f} | {median(sum(v) for v in app):,.0f} |"
        )
        for kind in ("PUT", "PATCH", "PATCH undo", "GET", "PUT whole"):
            values = [max(v for k, v in ms if k == kind) for ms in after]
            lines.append(f"| - longest {kind} | | {median(values):,.0f} | | |")
    return "\n".join(lines)


def main() -> int:
    args = parse_args()
    if "bench" not in args.database_name:
        raise SystemExit("the database's name must contain 'bench': it is dropped afterwards")
    with in_scratch_database(args.server_url, args.database_name, "eyetagger-worst-request-") as (url, tmp):
        return run(args, url, tmp)


if __name__ == "__main__":
    sys.exit(main())
