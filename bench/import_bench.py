#!/usr/bin/env python
"""Benchmark importing a dataset folder of 10,000 images: images per second, wall time and peak memory.

Generates the dataset once (640x480 iris-like images, 4 in 5 JPEG and 1 in 5 PNG, every one
distinct, and a metadata.csv of filename,ground_truth,sensor) into the git-ignored
data/bench-import/. Then, for each repeat: recreates a scratch PostgreSQL database (its name
must contain "bench"), evicts the images from the page cache if --cache is cold, and in a
fresh child process migrates the database (untimed) and runs the real command,
``call_command("import_dataset", folder, ...)``, timing the command alone. Each child reports
its wall time (and how much of it reading the files took), CPU time and peak RSS (VmHWM) as
JSON; medians are printed at the end.

    .venv/bin/python bench/import_bench.py --images 10000 --repeats 3

Only 127.0.0.1's PostgreSQL is used. "warm" runs find the images in the page cache; "cold"
runs evict them first with posix_fadvise (only those files; the VM's host may still cache them).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.helpers import describe, load_average, log, machine, peak_rss_mb  # noqa: E402  (the root is on the path first)
from bench.next_latency import recreate_database  # noqa: E402

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/eyetagger_bench_import"
DATASET_ROOT = ROOT / "data" / "bench-import"  # data/* is git-ignored
WIDTH, HEIGHT = 640, 480
PNG_EVERY = 5  # one image in five is a PNG, the others JPEG


def _iris_bases(rng, count: int) -> list[np.ndarray]:
    """Return count greyscale eyes: a dark pupil in a textured iris on a lighter sclera, centres varying."""
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    bases = []
    for _ in range(count):
        cx, cy = WIDTH / 2 + rng.uniform(-40, 40), HEIGHT / 2 + rng.uniform(-30, 30)
        radius = np.hypot(xx - cx, yy - cy)
        angle = np.arctan2(yy - cy, xx - cx)
        iris = 110 + 25 * np.sin(angle * rng.integers(20, 40) + radius / 6)
        image = np.where(radius < 45, 25, np.where(radius < 150, iris, 200 - radius * 0.08))
        bases.append(image.astype(np.float32))
    return bases


def write_dataset(folder: Path, count: int, seed: int = 7) -> Path:
    """Write count distinct images and metadata.csv below folder (metadata.csv last: its presence marks a whole set)."""
    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    bases = _iris_bases(rng, 16)
    noises = [rng.normal(0, 8, size=(HEIGHT, WIDTH)).astype(np.float32) for _ in range(31)]

    def write(index: int) -> str:
        pixels = bases[index % len(bases)] + noises[index % len(noises)]
        pixels = pixels.clip(0, 255).astype(np.uint8)
        pixels[0, :4] = np.frombuffer(index.to_bytes(4, "big"), dtype=np.uint8)  # every file distinct
        if index % PNG_EVERY == 0:
            name = f"eye_{index:06d}.png"
            PILImage.fromarray(pixels, "L").save(images / name, compress_level=6)
        else:
            name = f"eye_{index:06d}.jpg"
            PILImage.fromarray(pixels, "L").convert("RGB").save(images / name, quality=90)
        return name

    # Pillow's encoders release the GIL: one thread per core.
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        names = list(pool.map(write, range(count)))
    rows = ["filename,ground_truth,sensor"]
    rows += [f"{name},{'real' if i % 2 else 'fake'},LG{i % 4}000" for i, name in enumerate(names)]
    (folder / "metadata.csv").write_text("\n".join(rows) + "\n")
    return folder


def dataset_folder(count: int) -> Path:
    """Return the cached dataset of count images, generating it the first time."""
    folder = DATASET_ROOT / f"eyes-{count}"
    if (folder / "metadata.csv").exists() and len(list((folder / "images").iterdir())) == count:
        log(f"Reusing {folder.relative_to(ROOT)}")
        return folder
    log(f"Writing {count} images of {WIDTH}x{HEIGHT} into {folder.relative_to(ROOT)} (once)")
    started = time.perf_counter()
    write_dataset(folder, count)
    size = sum(path.stat().st_size for path in (folder / "images").iterdir())
    log(f"Written in {time.perf_counter() - started:.0f} s, {size / 1e6:.0f} MB")
    return folder


def drop_database(url: str) -> None:
    """Drop the scratch database (the dataset's images stay cached on disk for the next run)."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def evict(folder: Path) -> None:
    """Drop the dataset's files from the page cache (only these files: no root needed, nothing else touched)."""
    for path in (folder / "images").iterdir():
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def run_once(folder: Path) -> dict:
    """In this fresh process: migrate (untimed), then time the import_dataset command."""
    import django

    django.setup()
    from django.core.management import call_command

    from backend.api import importing
    from backend.api.models import Image

    call_command("migrate", "--no-input", verbosity=0)
    reading = []
    plan_import = importing.plan_import

    def timed_plan_import(*args, **kwargs):  # the part that reads the files, to split read from write
        started = time.perf_counter()
        try:
            return plan_import(*args, **kwargs)
        finally:
            reading.append(time.perf_counter() - started)

    importing.plan_import = timed_plan_import
    baseline = peak_rss_mb()
    cpu = time.process_time()  # all threads of the process
    started = time.perf_counter()
    with open(os.devnull, "w") as quiet:
        call_command("import_dataset", str(folder), "--name", "Bench import", stdout=quiet, stderr=quiet)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "read_seconds": sum(reading),
        "cpu_seconds": time.process_time() - cpu,
        "images": Image.objects.count(),
        "baseline_rss_mb": baseline,
        "peak_rss_mb": peak_rss_mb(),
    }


def child_env(database: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database,
        "DATASET_ROOT": str(DATASET_ROOT),
        "DEBUG": "false",  # as in production: no query log growing in memory
        "SECRET_KEY": "bench-only-not-secret",
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "backend.settings",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default=DEFAULT_DATABASE, help="Scratch database on 127.0.0.1, recreated.")
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--cache",
        nargs="+",
        choices=["warm", "cold"],
        default=["warm", "cold"],
        help="warm: the files in the page cache; cold: evicted first (the VM's host may still cache them).",
    )
    parser.add_argument("--once", type=Path, help=argparse.SUPPRESS)  # the child: import this folder
    args = parser.parse_args()
    if "@127.0.0.1:" not in args.database:
        parser.error("--database must be on 127.0.0.1")
    if args.once:
        print(json.dumps(run_once(args.once)), flush=True)
        return 0
    log(f"Machine: {describe(machine())}")
    folder = dataset_folder(args.images)
    results = []
    for cache in args.cache:
        runs = []
        for repeat in range(args.repeats):
            recreate_database(args.database)  # refuses a name without "bench"
            if cache == "cold":
                evict(folder)
            before = load_average()
            started = time.perf_counter()
            completed = subprocess.run(
                [sys.executable, __file__, "--database", args.database, "--once", str(folder)],
                env=child_env(args.database),
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=1800,
            )
            if completed.returncode != 0:
                sys.exit(f"the import failed ({completed.returncode}):\n{completed.stdout}\n{completed.stderr}")
            run = json.loads(completed.stdout.strip().splitlines()[-1])
            run.update(process_seconds=time.perf_counter() - started, load_before=before, load_after=load_average())
            if run["images"] != args.images:
                sys.exit(f"expected {args.images} images imported, found {run['images']}")
            runs.append(run)
            log(
                f"{cache} #{repeat + 1}: {args.images / run['seconds']:.0f} img/s, {run['seconds']:.2f} s "
                f"(reading {run['read_seconds']:.2f} s; CPU {run['cpu_seconds']:.2f} s; child process "
                f"{run['process_seconds']:.1f} s with start-up and migrate), peak RSS {run['peak_rss_mb']:.0f} MB; "
                f"load {run['load_before']} -> {run['load_after']}"
            )
        results.append((cache, runs))
    print(f"\nMedians of {args.repeats} runs, {args.images:,} images of {WIDTH}x{HEIGHT}:")
    print("| files | img/s | import s | reading files s | writing rows s | CPU s | RSS before MB | peak RSS MB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for cache, runs in results:
        seconds = statistics.median(r["seconds"] for r in runs)
        print(
            f"| {cache} | {args.images / seconds:,.0f} | {seconds:.2f} | "
            f"{statistics.median(r['read_seconds'] for r in runs):.2f} | "
            f"{statistics.median(r['seconds'] - r['read_seconds'] for r in runs):.2f} | "
            f"{statistics.median(r['cpu_seconds'] for r in runs):.2f} | "
            f"{statistics.median(r['baseline_rss_mb'] for r in runs):.0f} | "
            f"{statistics.median(r['peak_rss_mb'] for r in runs):.0f} |"
        )
    print(f"Load average: {results[0][1][0]['load_before']} before, {results[-1][1][-1]['load_after']} after")
    drop_database(args.database)
    return 0


if __name__ == "__main__":
    sys.exit(main())
