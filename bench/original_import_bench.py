#!/usr/bin/env python
"""Benchmark import_original: an original EyeTagger deployment of 20,000 annotations on 5,000 images.

Generates the deployment once into the git-ignored data/bench-original/: the dataset folder
(640x480 iris-like images, as bench/import_bench.py writes them) and gzipped pg_dump backups of
the original's final schema (COPY blocks, as its backups.sh writes them) with 20 annotators'
annotations drawn as fabric.js draws them: 1 to 4 strokes of 15 to 25 px, the PNG at
devicePixelRatio 1 (3 in 4) or 2, the SVG with its transform bug, the stroke times. One backup
holds every annotation, a second only the first quarter, to show the memory does not grow with
the number of annotations.

Then, for each backup and repeat, in a fresh child process: recreates a scratch PostgreSQL
database (its name must contain "bench"), migrates (untimed), and times the real command,
``call_command("import_original", "--dump", ..., "--dataset-dir", ...)``, with its parts (reading
the dump, the images, the annotations and writing them), its CPU time (the decoding workers'
included) and peak RSS (VmHWM; the largest worker's apart).
Medians are printed at the end, as a Markdown table, with the load average around the runs.

    .venv/bin/python bench/original_import_bench.py --repeats 3
"""

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from itertools import islice
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.helpers import describe, load_average, log, machine, peak_rss_mb  # noqa: E402  (the root is on the path first)
from bench.import_bench import child_env, drop_database, write_dataset  # noqa: E402
from bench.next_latency import recreate_database  # noqa: E402

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/eyetagger_h14_bench_original"
BENCH_ROOT = ROOT / "data" / "bench-original"  # data/* is git-ignored
ANNOTATORS = 20


def _fixtures():
    from backend.api.tests import original_fixtures

    return original_fixtures


def deployment(images: list[tuple[str, str]], annotations: int, seed: int = 14):
    """Return the deployment: every image annotated by distinct annotators in turn, as many annotations as asked."""
    fx = _fixtures()
    rng = random.Random(seed)
    image_specs = [
        fx.ImageSpec(name, 640, 480, sha256=sha, ground_truth=rng.choice(["real", "spoof"])) for name, sha in images
    ]
    users = [fx.UserSpec(1, "admin", "admin-pass", is_staff=True, is_superuser=True)]
    users += [fx.UserSpec(2 + k, f"annotator{k:02d}", f"pass-{k}", is_test=k == 0) for k in range(ANNOTATORS)]
    per_image = annotations // len(images)
    specs = []
    t = fx.EPOCH_2024
    for k in range(annotations):
        image = image_specs[k % len(images)]
        annotator = 2 + (k % len(images) + (k // len(images)) * (ANNOTATORS // max(per_image, 1))) % ANNOTATORS
        strokes = []
        for _ in range(rng.randint(1, 4)):
            start = (rng.uniform(140, 500), rng.uniform(100, 380))
            steps = rng.randint(10, 50)
            line = fx._line(rng, start, steps, rng.uniform(2.0, 5.0), resolution=1.0)
            strokes.append(fx.Stroke(line, rng.choice([3, 4, 4, 5]), t, t + 16 * steps))
            t += 1000 * (steps // 10 + 1)
        specs.append(
            fx.AnnotationSpec(
                k + 1,
                annotator,
                image.name,
                strokes,
                dpr=2 if k % 4 == 3 else 1,
                real=rng.random() < 0.5,
                fake=rng.random() < 0.4,
                text=rng.choice(["enter text here"] * 3 + ["texture", "contact lens edge"]),
                ground_truth=image.ground_truth,
            )
        )
        t += 60_000
    return fx.Deployment("final", users, image_specs, specs)


def _render(job):
    spec, image = job
    return _fixtures().annotation_columns(spec, image, supersample=4)


def generate(images: int, annotations: int, small: int, drawings: int | None = None) -> tuple[Path, dict[int, Path]]:
    """Return the dataset folder and {annotations: backup}, generating them the first time.

    ``drawings``: draw only that many annotations and give each to several rows in turn (each row
    still has its own annotator, image, times and id, and is decoded on its own by the import).
    """
    drawings = min(drawings or annotations, annotations)
    folder = BENCH_ROOT / f"eyes-{images}"
    suffix = "" if drawings == annotations else f"-of-{drawings}-drawings"
    dumps = {n: folder / f"backup-{n}{suffix}.sql.gz" for n in (annotations, small)}
    if all(path.exists() for path in dumps.values()) and (folder / "dataset" / "metadata.csv").exists():
        log(f"Reusing {folder.relative_to(ROOT)}")
        return folder / "dataset", dumps
    import hashlib

    dataset = folder / "dataset"
    if not (dataset / "metadata.csv").exists():  # written last: a whole set of images
        log(f"Writing {images} images into {folder.relative_to(ROOT)} (once)")
        write_dataset(dataset, images)
    files = sorted((dataset / "images").iterdir())
    shas = [(path.name, hashlib.sha256(path.read_bytes()).hexdigest()) for path in files]
    fx = _fixtures()
    whole = deployment(shas, annotations)
    started = time.perf_counter()
    log(f"Drawing {drawings} annotations as fabric.js does, {os.cpu_count()} processes (once; minutes)")
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        rendered = []

        def render_and_keep(jobs):
            jobs = iter(jobs)
            drawn = pool.map(_render, islice(jobs, drawings), chunksize=32)
            if drawings < annotations:
                drawn = list(drawn)
                drawn += [drawn[k % drawings] for k, _ in enumerate(jobs, start=drawings)]
            for k, columns in enumerate(drawn):
                if k < small:
                    rendered.append(columns)
                if k % 1000 == 999:
                    log(f"  {k + 1} drawn, {time.perf_counter() - started:.0f} s")
                yield columns

        for_size = dumps[annotations].with_suffix(".part")
        path = fx.write_dump(whole, folder, render=render_and_keep)
        path.rename(for_size)
        part = fx.Deployment("final", whole.users, whole.images, whole.annotations[:small])
        fx.write_dump(part, folder, render=lambda jobs: iter(rendered)).rename(dumps[small])
        for_size.rename(dumps[annotations])
    log(
        f"Written in {time.perf_counter() - started:.0f} s: "
        + ", ".join(f"{p.name} {p.stat().st_size / 1e6:.0f} MB" for p in dumps.values())
    )
    return dataset, dumps


def _cpu_seconds() -> float:
    """Return the CPU time of this process (every thread) and of its ended children (the decoding workers)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def run_once(dump: Path, dataset: Path) -> dict:
    """In this fresh process: migrate (untimed), then time the import_original command and its parts."""
    import django

    django.setup()
    from django.core.management import call_command

    from backend.api.models import Annotation, OriginalAnnotation
    from backend.api.original import dump as dump_mod
    from backend.api.services import original

    call_command("migrate", "--no-input", verbosity=0)
    parts = {"dump": 0.0, "images": 0.0}

    def timed(name, function):
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                parts[name] += time.perf_counter() - started

        return wrapper

    dump_mod.PgDump.scan = timed("dump", dump_mod.PgDump.scan)
    original._locate_images = timed("images", original._locate_images)
    baseline = peak_rss_mb()
    cpu = _cpu_seconds()
    started = time.perf_counter()
    out = __import__("io").StringIO()
    with open(os.devnull, "w") as quiet:
        call_command("import_original", "--dump", str(dump), "--dataset-dir", str(dataset), stdout=out, stderr=quiet)
    seconds = time.perf_counter() - started
    report = out.getvalue()
    svg = next((line for line in report.splitlines() if line.startswith("SVG against PNG")), "")
    differing = list(
        OriginalAnnotation.objects.exclude(svg_pixels_differing=None).values_list("svg_pixels_differing", "svg_iou")
    )
    return {
        "seconds": seconds,
        "dump_seconds": parts["dump"],
        "images_seconds": parts["images"],
        "cpu_seconds": _cpu_seconds() - cpu,
        "workers_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "annotations": Annotation.objects.count(),
        "baseline_rss_mb": baseline,
        "peak_rss_mb": peak_rss_mb(),
        "svg": svg,
        "svg_rows": len(differing),
        "svg_differ": sum(1 for pixels, _ in differing if pixels),
        "svg_pixels": sorted(pixels for pixels, _ in differing if pixels),
        "svg_iou_min": min((iou for _, iou in differing), default=None),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default=DEFAULT_DATABASE, help="Scratch database on 127.0.0.1, recreated.")
    parser.add_argument("--images", type=int, default=5_000)
    parser.add_argument("--annotations", type=int, default=20_000)
    parser.add_argument("--small", type=int, default=5_000, help="Annotations in the second, smaller backup.")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--drawings",
        type=int,
        help="Draw only this many annotations, each given to several rows in turn (drawing all 20,000 "
        "takes an hour or more on a shared machine; the import's work per row is the same).",
    )
    parser.add_argument("--once", nargs=2, type=Path, help=argparse.SUPPRESS)  # the child: dump, dataset
    args = parser.parse_args()
    if "@127.0.0.1:" not in args.database:
        parser.error("--database must be on 127.0.0.1")
    if args.once:
        print(json.dumps(run_once(*args.once)), flush=True)
        return 0
    log(f"Machine: {describe(machine())}")
    dataset, dumps = generate(args.images, args.annotations, args.small, args.drawings)
    env = {**child_env(args.database), "DATASET_ROOT": str(BENCH_ROOT)}
    results = []
    for size in sorted(dumps):
        runs = []
        for repeat in range(args.repeats):
            recreate_database(args.database)  # refuses a name without "bench"
            before = load_average()
            completed = subprocess.run(
                [sys.executable, __file__, "--database", args.database, "--once", str(dumps[size]), str(dataset)],
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=3600,
            )
            if completed.returncode != 0:
                sys.exit(f"the import failed ({completed.returncode}):\n{completed.stdout}\n{completed.stderr}")
            run = json.loads(completed.stdout.strip().splitlines()[-1])
            run.update(load_before=before, load_after=load_average())
            if run["annotations"] != size:
                sys.exit(f"expected {size} annotations imported, found {run['annotations']}")
            runs.append(run)
            log(
                f"{size} annotations #{repeat + 1}: {run['seconds']:.1f} s ({size / run['seconds']:.0f}/s; dump "
                f"{run['dump_seconds']:.1f} s, images {run['images_seconds']:.1f} s), CPU {run['cpu_seconds']:.1f} s, "
                f"peak RSS {run['peak_rss_mb']:.0f} MB (a worker {run['workers_peak_rss_mb']:.0f} MB); "
                f"load {run['load_before']} -> {run['load_after']}"
            )
        results.append((size, runs))
    print(f"\nMedians of {args.repeats} runs, {args.images:,} images of 640x480:")
    print(
        "| annotations | import s | per second | reading the dump s | images s | annotations s | CPU s "
        "| CPU ms an annotation | peak RSS MB | a worker's peak RSS MB |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size, runs in results:

        def median(key, runs=runs):
            return statistics.median(r[key] for r in runs)

        seconds = median("seconds")
        rest = statistics.median(r["seconds"] - r["dump_seconds"] - r["images_seconds"] for r in runs)
        print(
            f"| {size:,} | {seconds:.1f} | {size / seconds:,.0f} | {median('dump_seconds'):.1f} | "
            f"{median('images_seconds'):.1f} | {rest:.1f} | {median('cpu_seconds'):.1f} | "
            f"{1000 * median('cpu_seconds') / size:.1f} | {median('peak_rss_mb'):.0f} | "
            f"{median('workers_peak_rss_mb'):.0f} |"
        )
    biggest = results[-1][1][0]
    pixels = biggest["svg_pixels"]
    if pixels:
        print(
            f"\nSVG strokes against the PNG ({biggest['svg_rows']:,} rows with both): {biggest['svg_differ']:,} differ "
            f"({100 * biggest['svg_differ'] / biggest['svg_rows']:.0f}%), by a median of {pixels[len(pixels) // 2]} "
            f"pixels (90th percentile {pixels[int(len(pixels) * 0.9)]}, most {pixels[-1]}); "
            f"IoU {biggest['svg_iou_min']:.4f} at worst."
        )
    print(f"Load average: {results[0][1][0]['load_before']} before, {results[-1][1][-1]['load_after']} after")
    drop_database(args.database)  # the generated deployment stays cached on disk for the next run
    return 0


if __name__ == "__main__":
    sys.exit(main())
