#!/usr/bin/env python
"""How a save's cost grows with what the image already holds: incremental PATCH against whole PUT.

Builds a scratch PostgreSQL database (dropped afterwards), imports generated 512x512 images, and
for each size (10, 100, 1,000 strokes by default) draws that many 60-point strokes on an image,
twice: once through the app's incremental saves (PATCH, one stroke a save, as the app sends them)
and once saved whole (PUT). Then, on each, side by side and interleaved, it times saves through
Django's whole request stack (its test client, DEBUG off) and measures:

- a save adding one 60-point stroke (PATCH: the stroke alone; PUT: the whole document with it);
- a save changing only the text;
- an undo (PATCH: remove 1; PUT: the document without its last stroke) and the redo after it;
- the page load of the image's annotation (GET), which every open of the image makes.

CPU per save is this process's CPU time plus the CPU time of the database backend serving it
(read from /proc), over the timed saves, divided by their number: what a save costs the machine,
whatever else runs on it. It prints a Markdown table with medians and ratios.

    .venv/bin/python bench/save_growth.py                       # 10, 100, 1000 strokes
    .venv/bin/python bench/save_growth.py --sizes 10 1000 --saves 40
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.helpers import describe, log, machine  # noqa: E402  (the repository root is on the path first)
from bench.save_load import CLIENT_INFO  # noqa: E402
from bench.stack import in_scratch_database, write_images  # noqa: E402

SIDE = 512
POINTS = 60


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000], help="Strokes already held.")
    parser.add_argument("--saves", type=int, default=21, help="Timed saves of each kind per size and mode.")
    parser.add_argument("--rounds", type=int, default=3, help="Interleaved rounds; medians are over them.")
    parser.add_argument("--server-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database-name", default=f"eyetagger_bench_save_growth_{os.getpid()}")
    parser.add_argument("--seed", type=int, default=3)
    return parser.parse_args()


def stroke_json(rng, t0: float) -> str:
    """Return a 60-point random-walk brush stroke's JSON, rounded as the app rounds points."""
    start = rng.uniform(64, SIDE - 64, size=2)
    walk = np.clip(start + np.cumsum(rng.normal(0, 3.0, size=(POINTS, 2)), axis=0), -20, SIDE + 20)
    times = np.round(t0 + np.cumsum(rng.uniform(4, 20, size=POINTS)), 1)
    pressure = np.round(rng.uniform(0.2, 0.9, size=POINTS), 3)
    points = [
        [round(float(x), 3), round(float(y), 3), float(t), float(p)]
        for (x, y), t, p in zip(walk, times, pressure, strict=True)
    ]
    return json.dumps(
        {"tool": "brush", "width": round(float(rng.uniform(6, 20)), 1), "points": points}, separators=(",", ":")
    )


class Image:
    """One image's annotation as a client holds it: its strokes (JSON texts), text and version."""

    def __init__(self, client, image_id: int, mode: str):
        self.client, self.id, self.mode = client, image_id, mode
        self.strokes: list[str] = []
        self.text = ""
        self.version = 0
        self.url = f"/api/images/{image_id}/annotation/"
        self.sent_bytes: list[int] = []

    def _answer(self, response) -> None:
        if response.status_code not in (200, 201):
            raise SystemExit(f"{self.mode} failed: {response.status_code} {response.content[:300]!r}")
        self.version = response.json()["version"]

    def _patch(self, fields: dict, append=(), remove: int = 0) -> None:
        rest = {"version": self.version, "remove": remove, "active_ms": 1000, "client": CLIENT_INFO, **fields}
        body = '{"append":[' + ",".join(append) + "]," + json.dumps(rest, separators=(",", ":"))[1:]
        self.sent_bytes.append(len(body))
        self._answer(self.client.patch(self.url, body, content_type="application/json"))

    def _put(self) -> None:
        rest = {"label": None, "text": self.text, "status": "draft", "version": self.version, "active_ms": 1000}
        body = '{"strokes":[' + ",".join(self.strokes) + "]," + json.dumps({**rest, "client": CLIENT_INFO})[1:]
        self.sent_bytes.append(len(body))
        self._answer(
            self.client.put(self.url, body, content_type="application/json", headers={"Prefer": "return=minimal"})
        )

    def add(self, stroke: str) -> None:
        self.strokes.append(stroke)
        self._patch({}, append=[stroke]) if self.mode == "patch" else self._put()

    def type(self, word: str) -> None:
        self.text += word
        self._patch({"text": self.text}) if self.mode == "patch" else self._put()

    def undo(self) -> str:
        stroke = self.strokes.pop()
        self._patch({}, remove=1) if self.mode == "patch" else self._put()
        return stroke

    def load(self) -> int:
        response = self.client.get(self.url)
        if response.status_code != 200 or len(response.json()["strokes"]) != len(self.strokes):
            raise SystemExit(f"GET failed: {response.status_code}")
        return len(response.content)


def backend_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


class CpuMeter:
    """CPU seconds of this process and of the database backend serving it."""

    def __init__(self, backend_pid: int):
        self.pid = backend_pid
        self.hz = os.sysconf("SC_CLK_TCK")

    def now(self) -> float:
        return time.process_time() + backend_ticks(self.pid) / self.hz

    def backend(self) -> float:
        """Return the database backend's CPU seconds alone."""
        return backend_ticks(self.pid) / self.hz


def measure(meter: CpuMeter, action, count: int) -> float:
    """Return the CPU ms per call of ``action(k)`` over ``count`` calls."""
    started = meter.now()
    for k in range(count):
        action(k)
    return (meter.now() - started) * 1000 / count


def measure_image(image: Image, meter: CpuMeter, saves: int, extra: list[str]) -> tuple[dict, dict]:
    """Time each kind of request on the image, leaving it as it was; return (CPU ms by kind, bytes by kind)."""
    measured, sent = {}, {}
    image.sent_bytes.clear()
    measured["add a stroke"] = measure(meter, lambda k: image.add(extra[k]), saves)
    sent["add a stroke"] = list(image.sent_bytes)
    del image.strokes[-saves:]  # back to where it was, untimed
    image._put() if image.mode == "put" else image._patch({}, remove=saves)
    measured["change the text"] = measure(meter, lambda k: image.type(f" w{k}"), saves)
    undone = []
    measured["undo"] = measure(meter, lambda k: undone.append(image.undo()), saves // 3)
    measured["redo"] = measure(meter, lambda k: image.add(undone.pop()), saves // 3)
    measured["page load (GET)"] = measure(meter, lambda k: image.load(), saves)
    sent["page load (GET)"] = [image.load()]
    return measured, sent


def main() -> int:
    args = parse_args()
    with in_scratch_database(args.server_url, args.database_name, "eyetagger-save-growth-") as (url, tmp):
        return run(args, url, tmp)


def setup_django(url: str, tmp: Path):
    os.environ.update(
        {
            "DATABASE_URL": url,
            "DEBUG": "false",
            "SECRET_KEY": "bench-only-not-secret",
            "ALLOWED_HOSTS": "testserver",
            "DATASET_ROOT": str(tmp),
            "SECURE_SSL_REDIRECT": "false",
            "EYETAGGER_ENV_FILES": "",
            "DJANGO_SETTINGS_MODULE": "backend.settings",
        }
    )
    import django

    django.setup()


def run(args, url: str, tmp: Path) -> int:
    setup_django(url, tmp)
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from backend.api import services
    from backend.api import strokes as strokes_mod
    from backend.api.models import Role

    # The PUT column is what whole-document saves cost, as clients sent them before saves had an ink
    # budget: lifted here, or a PUT repainting 1,000 strokes (an undo) would be refused as too much ink.
    # The PATCHes are budgeted by their serializer's own copy of the limit, as the app sends them.
    strokes_mod.DEFAULT_LIMITS = strokes_mod.Limits(max_ink=10**12)
    log("Migrating")
    call_command("migrate", verbosity=0)
    folder = write_images(tmp / "bench", 2 * len(args.sizes), SIDE)
    dataset = services.dataset_import(folder=folder, name="Growth", choices=["real", "fake"]).dataset
    rng = np.random.default_rng(args.seed)
    images = {}
    for size in args.sizes:
        for mode in ("patch", "put"):
            user = services.user_create(username=f"{mode}{size}", password="x" * 16, role=Role.ANNOTATOR)
            client = Client(HTTP_AUTHORIZATION=f"Token {services.api_token_create(user=user).key}")
            image_id = client.get(f"/api/datasets/{dataset.pk}/next/").json()["image"]["id"]
            images[(size, mode)] = Image(client, image_id, mode)
        log(f"Drawing {size} strokes: one stroke a PATCH on one image, one PUT of them all on another")
        strokes = [stroke_json(rng, 1000.0 * k) for k in range(size)]
        for stroke in strokes:
            images[(size, "patch")].add(stroke)
        images[(size, "put")].strokes = list(strokes)
        images[(size, "put")]._put()  # the same row as after a PUT a stroke, without its O(n^2) set-up
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        meter = CpuMeter(cursor.fetchone()[0])
    extra = [stroke_json(rng, 1e7 + 1000.0 * k) for k in range(args.saves)]
    figures: dict[tuple[int, str, str], list[float]] = {}
    sizes: dict[tuple[int, str, str], list[int]] = {}
    for round_ in range(args.rounds):
        log(f"Round {round_ + 1}/{args.rounds}")
        for size in args.sizes:
            for mode in ("patch", "put") if round_ % 2 == 0 else ("put", "patch"):
                measured, sent = measure_image(images[(size, mode)], meter, args.saves, extra)
                for kind, ms in measured.items():
                    figures.setdefault((size, mode, kind), []).append(ms)
                sizes.update({(size, mode, kind): value for kind, value in sent.items()})
        if round_ < args.rounds - 1:  # a shared machine may not leave time for every round: report each
            log("After this round:\n" + report(args, figures, sizes, machine(database_url=url)))
    print(report(args, figures, sizes, machine(database_url=url)))
    return 0


def report(args, figures, sizes, host) -> str:
    median = lambda values: statistics.median(values)  # noqa: E731
    kinds = ["add a stroke", "change the text", "undo", "redo", "page load (GET)"]
    lines = [
        f"Machine: {describe(host)}. Command: `.venv/bin/python bench/save_growth.py {' '.join(sys.argv[1:])}`",
        f"CPU ms per request (Django + its PostgreSQL backend), medians of {len(next(iter(figures.values())))} "
        "interleaved rounds (each the mean of "
        f"{args.saves} saves; undo and redo: {args.saves // 3}); 60-point strokes on a {SIDE}x{SIDE} image.",
        "",
        "| strokes held | request | PATCH (change) | PUT (whole) | PUT / PATCH | PATCH bytes | PUT bytes |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for size in args.sizes:
        for kind in kinds:
            patch, put = median(figures[(size, "patch", kind)]), median(figures[(size, "put", kind)])
            bytes_patch = sizes.get((size, "patch", kind))
            bytes_put = sizes.get((size, "put", kind))
            label = "answer" if kind.startswith("page") else "sent"
            lines.append(
                f"| {size:,} | {kind} | {patch:.1f} | {put:.1f} | {put / patch:.1f}x "
                f"| {f'{median(bytes_patch):,.0f} {label}' if bytes_patch else ''} "
                f"| {f'{median(bytes_put):,.0f} {label}' if bytes_put else ''} |"
            )
    lines.append("")
    first, last = args.sizes[0], args.sizes[-1]
    for kind in kinds[:4]:
        values = [median(figures[(size, "patch", kind)]) for size in args.sizes]
        spread = max(values) / min(values)
        verdict = "met" if spread <= 1.5 else "missed"
        lines.append(
            f"- PATCH {kind}: {', '.join(f'{v:.1f}' for v in values)} ms at {', '.join(map(str, args.sizes))} strokes; "
            f"largest / smallest {spread:.2f} (target 1.5: **{verdict}**)"
        )
    load_patch = median(figures[(last, "patch", "page load (GET)")])
    load_put = median(figures[(last, "put", "page load (GET)")])
    lines.append(
        f"- page load of {last:,} strokes: saved by PATCH (chunks) {load_patch:.1f} ms, saved whole (one row) "
        f"{load_put:.1f} ms: {load_patch / load_put:.2f}x; at {first} strokes "
        f"{median(figures[(first, 'patch', 'page load (GET)')]):.1f} ms"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
