#!/usr/bin/env python
"""Benchmark dataset exports: annotations per second, time to first byte and peak memory.

Seeds PostgreSQL with datasets of N annotations on 512x512 images (5 annotators per
image; realistic strokes documents of 10 strokes x 200 points, their masks stored as
saved annotations store them), then exports each dataset through the real code path —
GET /api/datasets/{id}/export/ through Django's full request stack, or the
export_annotations command — each run in a fresh process, so its peak RSS is its own.

    .venv/bin/python bench/export_bench.py --sizes 10000 50000 --formats coco csv jsonl masks --repeats 3

Only 127.0.0.1's PostgreSQL is used: the database named by --database is created if
missing and reused (seeding is skipped for datasets already complete).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.helpers import log, peak_rss_mb  # noqa: E402  (the repository root is put on the path first)

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/eyetagger_bench_issue5"
ANNOTATORS = 5
SIDE = 512
DISTINCT_DOCUMENTS = 200  # documents are generated once and reused: the export reads them the same way


def setup_django(database: str) -> None:
    os.environ["DATABASE_URL"] = database
    os.environ.setdefault("DEBUG", "false")  # as in production: no query log growing in memory
    os.environ.setdefault("SECRET_KEY", "benchmark-only-not-secret")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def create_database(database: str) -> None:
    import psycopg

    name = database.rsplit("/", 1)[1]
    server = database.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(server, autocommit=True) as connection:
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            log(f"Creating database {name}")
            connection.execute(f'CREATE DATABASE "{name}"')


def documents(seed: int = 5):
    """Return DISTINCT_DOCUMENTS (strokes, mask RLE, area): 10 random-walk strokes of 200 points each."""
    import numpy as np

    from backend.api import masks, strokes

    rng = np.random.default_rng(seed)
    made = []
    for _ in range(DISTINCT_DOCUMENTS):
        document, t = [], 0.0
        for k in range(10):
            start = rng.uniform(64, SIDE - 64, size=2)
            walk = np.clip(start + np.cumsum(rng.normal(0, 2.5, size=(200, 2)), axis=0), -20, SIDE + 20)
            times = t + np.cumsum(rng.uniform(4, 20, size=200))
            t = float(times[-1]) + 300
            points = [
                [round(float(x), 2), round(float(y), 2), round(float(ms), 1), round(float(p), 3)]
                for (x, y), ms, p in zip(walk, times, rng.uniform(0.2, 0.9, size=200), strict=True)
            ]
            tool = "eraser" if k == 7 else "brush"
            document.append({"tool": tool, "width": round(float(rng.uniform(6, 30)), 1), "points": points})
        mask = strokes.rasterize(document, SIDE, SIDE)
        made.append((document, masks.rle_encode(mask), int(mask.sum())))
    return made


def seed(size: int) -> None:
    """Create dataset bench-<size> with size annotations, unless it is already complete."""
    import hashlib
    from datetime import timedelta

    from django.contrib.auth.models import User
    from django.db import connection, transaction
    from django.utils import timezone

    from backend.api import services
    from backend.api.models import Annotation, Dataset, Image, Role

    slug = f"bench-{size}"
    dataset = Dataset.objects.filter(slug=slug).first()
    if dataset and Annotation.objects.filter(image__dataset=dataset).count() == size:
        log(f"{slug}: already seeded")
        return
    log(f"{slug}: seeding {size} annotations ({size // ANNOTATORS} images x {ANNOTATORS} annotators)")
    users = []
    for k in range(ANNOTATORS):
        user = User.objects.filter(username=f"bench-annotator-{k}").first()
        users.append(
            user or services.user_create(username=f"bench-annotator-{k}", password="x" * 12, role=Role.ANNOTATOR)
        )
    if not User.objects.filter(username="bench-researcher").exists():
        services.user_create(username="bench-researcher", password="x" * 12, role=Role.RESEARCHER)
    made = documents()
    started = time.perf_counter()
    with transaction.atomic():
        if dataset:
            Annotation.objects.filter(image__dataset=dataset).delete()
            Image.objects.filter(dataset=dataset).delete()
            dataset.delete()
        dataset = Dataset.objects.create(
            name=f"Benchmark {size}", slug=slug, root=f"bench/{slug}", choices=["real", "fake"], require_choice=True
        )
        images = Image.objects.bulk_create(
            [
                Image(
                    dataset=dataset,
                    sha256=hashlib.sha256(f"{slug}/{n}".encode()).hexdigest(),
                    path=f"images/iris_{n:06d}.png",
                    position=n,
                    width=SIDE,
                    height=SIDE,
                    ground_truth="real" if n % 3 else "fake",
                    metadata={"sensor": f"LG{n % 4}000", "session": str(n % 7)},
                )
                for n in range(size // ANNOTATORS)
            ],
            batch_size=2000,
        )
        now = timezone.now()
        batch = []
        for n, image in enumerate(images):
            for k, user in enumerate(users):
                document, rle, area = made[(n * ANNOTATORS + k) % len(made)]
                batch.append(
                    Annotation(
                        image=image,
                        annotator=user,
                        strokes=document,
                        label="real" if (n + k) % 4 else "fake",
                        text="the texture repeats" if k == 0 else "",
                        status=Annotation.Status.SUBMITTED,
                        version=1,
                        started_at=now - timedelta(minutes=5),
                        submitted_at=now,
                        active_ms=20_000 + 1000 * k,
                        client={"user_agent": "benchmark", "device_pixel_ratio": 1.0, "pointer_types": ["mouse"]},
                        stroke_count=len(document),
                        mask_area=area,
                        mask_rle=rle,
                    )
                )
            if len(batch) >= 1000:
                Annotation.objects.bulk_create(batch)
                batch = []
        Annotation.objects.bulk_create(batch)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # planner statistics, as autovacuum would gather them on a live server
    log(f"{slug}: seeded in {time.perf_counter() - started:.0f} s")


def run_once(size: int, fmt: str, via: str) -> dict:
    """Export bench-<size> once in this process; return the measurements."""
    from django.contrib.auth.models import User
    from django.test import Client

    from backend.api.models import Dataset

    dataset = Dataset.objects.get(slug=f"bench-{size}")
    researcher = User.objects.get(username="bench-researcher")
    client = Client()
    client.force_login(researcher)
    # Warm up as a running server would be: URL resolution, views and serializers imported.
    assert client.get(f"/api/datasets/{dataset.pk}/export/", {"format": "nope"}).status_code == 400
    baseline = peak_rss_mb()
    written, first = 0, None
    started = time.perf_counter()
    if via == "view":
        response = client.get(f"/api/datasets/{dataset.pk}/export/", {"format": fmt})
        assert response.status_code == 200, response.content
        for chunk in response.streaming_content:
            if first is None:
                first = time.perf_counter() - started
            written += len(chunk)
        response.close()
    else:
        from django.core.management import call_command

        call_command("export_annotations", dataset.slug, f"--format={fmt}", "--out=-", "--no-progress")
    seconds = time.perf_counter() - started
    return {
        "size": size,
        "format": fmt,
        "via": via,
        "seconds": seconds,
        "rate": size / seconds,
        "first_byte_s": first,
        "bytes": written,
        "baseline_rss_mb": baseline,
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database", default=DEFAULT_DATABASE, help="PostgreSQL URL on 127.0.0.1 (created if missing)."
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--formats", nargs="+", default=["coco"], choices=["coco", "csv", "jsonl", "masks"])
    parser.add_argument("--via", nargs="+", default=["view"], choices=["view", "command"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--once", nargs=3, metavar=("SIZE", "FORMAT", "VIA"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if "127.0.0.1" not in args.database and "localhost" not in args.database:
        parser.error("--database must be on 127.0.0.1")
    if args.once:
        setup_django(args.database)
        size, fmt, via = args.once
        stdout = sys.stdout
        if via == "command":
            sys.stdout = open(os.devnull, "w")  # the command writes the export here
        result = run_once(int(size), fmt, via)
        print(json.dumps(result), file=stdout, flush=True)
        return 0
    create_database(args.database)
    setup_django(args.database)
    from django.core.management import call_command

    log("Migrating")
    call_command("migrate", "--no-input", verbosity=0)
    for size in args.sizes:
        seed(size)
    results = []
    for size in args.sizes:
        for fmt in args.formats:
            for via in args.via:
                runs = []
                for repeat in range(args.repeats):
                    completed = subprocess.run(
                        [sys.executable, __file__, "--database", args.database, "--once", str(size), fmt, via],
                        check=True,
                        capture_output=True,
                        text=True,
                        timeout=3600,
                    )
                    run = json.loads(completed.stdout.strip().splitlines()[-1])
                    runs.append(run)
                    log(
                        f"{size} {fmt} via {via} #{repeat + 1}: {run['rate']:.0f} ann/s, {run['seconds']:.1f} s, "
                        f"peak RSS {run['peak_rss_mb']:.0f} MB"
                    )
                results.append(
                    {
                        "size": size,
                        "format": fmt,
                        "via": via,
                        "runs": len(runs),
                        "rate": statistics.median(r["rate"] for r in runs),
                        "seconds": statistics.median(r["seconds"] for r in runs),
                        "first_byte_s": statistics.median(r["first_byte_s"] or 0 for r in runs),
                        "mb": statistics.median(r["bytes"] for r in runs) / 1e6,
                        "baseline_rss_mb": statistics.median(r["baseline_rss_mb"] for r in runs),
                        "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in runs),
                    }
                )
    print("| annotations | format | via | ann/s | s | first byte s | output MB | RSS before MB | peak RSS MB |")
    print("|---:|---|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['size']:,} | {r['format']} | {r['via']} | {r['rate']:,.0f} | {r['seconds']:.1f} | "
            f"{r['first_byte_s']:.2f} | {r['mb']:,.0f} | {r['baseline_rss_mb']:.0f} | {r['peak_rss_mb']:.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
