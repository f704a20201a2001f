#!/usr/bin/env python
"""Time `GET /api/datasets/{id}/next/` on 100,000 images and 500,000 annotations, on PostgreSQL.

Builds a scratch database (dropped and made again: its name must contain "bench"), migrates it,
bulk-loads users, images, annotations, assignments and progress rows with COPY, then calls `next`
and reports p50/p95/p99. Each timed call is a fresh hand-out: the image of the previous call was
submitted first (untimed, through the API too). --via chooses how `next` is called:
  client    in-process through the whole API stack (Django's test client: middleware, token
            authentication, permissions, DRF, serializers; no network), the default;
  gunicorn  over HTTP on 127.0.0.1 through Gunicorn as in production (deploy/gunicorn.conf.py,
            DEBUG off, started by bench/stack.py's running_gunicorn), one keep-alive connection;
            the server's CPU time per request is reported too.

Scenarios (both 100,000 images and 500,000 submitted annotations):
  target    8 annotators wanted per image, 250 annotators, every image at 5 (a study 62% done).
  everyone  every annotator sees every image, 50 annotators, each 10,000 images into their own order.

Then EXPLAIN ANALYZE of the queue's queries confirms they run on indexes.

    .venv/bin/python bench/next_latency.py --url postgres://postgres@127.0.0.1:5432/eyetagger_issue4_bench
    .venv/bin/python bench/next_latency.py --url ... --reuse --via client gunicorn --calls 2000
"""

import argparse
import contextlib
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.helpers import describe, load_average, log, machine, percentile  # noqa: E402  (the root is on the path first)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="postgres://postgres@127.0.0.1:5432/eyetagger_bench", help="Scratch database.")
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--annotations", type=int, default=500_000)
    parser.add_argument("--calls", type=int, default=1000, help="Timed calls per scenario.")
    parser.add_argument("--scenario", choices=["target", "everyone", "both"], default="both")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--via",
        nargs="+",
        choices=["client", "gunicorn"],
        default=["client"],
        help="In-process with Django's test client, and/or over HTTP through Gunicorn as in production.",
    )
    parser.add_argument(
        "--reuse", action="store_true", help="Time again on the database a previous run built (migrating it first)."
    )
    return parser.parse_args()


def recreate_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    if "bench" not in name:
        sys.exit(f"refusing to drop {name!r}: a scratch database's name must contain 'bench'")
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def setup_django(url: str) -> None:
    os.environ.update(
        {
            "DATABASE_URL": url,
            "DEBUG": "false",  # no query log kept in memory, as in production
            # DEBUG off turns the HTTPS redirect on; in production Nginx says the request came over HTTPS.
            "SECURE_SSL_REDIRECT": "false",
            "SECRET_KEY": "bench-only-not-secret",
            "ALLOWED_HOSTS": "testserver",
            "LOG_LEVEL": "WARNING",
        }
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
    import django

    django.setup()


def copy_rows(table: str, columns: list[str], rows) -> None:
    """Load rows (tuples) into a table with COPY."""
    from django.db import connection

    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def build(scenario: str, n_images: int, n_annotations: int, seed: int):
    """Create the dataset, its annotators and their work; return (dataset, tokens of the annotators)."""
    from django.contrib.auth.models import Group, User
    from django.db import connection
    from django.utils import timezone

    from backend.api.models import KEY_BITS, Dataset, Profile, shuffle_key
    from backend.api.services import api_token_create

    rng = np.random.default_rng(seed)
    now = timezone.now()
    target = 8 if scenario == "target" else None
    n_annotators = 250 if scenario == "target" else 50
    dataset = Dataset.objects.create(
        name=f"Bench {scenario}",
        slug=f"bench-{scenario}",
        root=f"bench-{scenario}",
        annotators_per_image=target,
        require_mask=False,
        image_count=n_images,
    )
    log(f"[{scenario}] {n_annotators} annotators")
    group = Group.objects.get_or_create(name="annotator")[0]
    users = User.objects.bulk_create([User(username=f"{scenario}-a{i:04d}", password="!") for i in range(n_annotators)])
    Profile.objects.bulk_create([Profile(user=u) for u in users])
    group.user_set.add(*users)
    tokens = {u.pk: api_token_create(user=u).key for u in users}
    user_ids = np.array([u.pk for u in users])

    log(f"[{scenario}] {n_images} images (COPY)")
    sha = [f"{seed:08x}{scenario[:1].encode().hex()}{i:054x}" for i in range(n_images)]
    keys = np.array([shuffle_key(dataset.seed, s) for s in sha], dtype=np.int64)
    copy_rows(
        "api_image",
        [
            "dataset_id",
            "sha256",
            "path",
            "position",
            "width",
            "height",
            "metadata",
            "shuffle_key",
            "reserved_count",
            "submitted_count",
            "created_at",
            "updated_at",
        ],
        (
            (dataset.pk, sha[i], f"images/{i:06d}.png", i, 512, 512, "{}", int(keys[i]), 0, 0, now, now)
            for i in range(n_images)
        ),
    )
    image_ids = np.array([pk for (pk,) in dataset.images.order_by("position").values_list("pk")], dtype=np.int64)

    log(f"[{scenario}] {n_annotations} annotations and assignments")
    pairs_image, pairs_user, cursors = [], [], {}
    if scenario == "target":
        per_image = n_annotations // n_images  # 5 distinct annotators on every image
        for i in range(n_images):
            chosen = rng.choice(n_annotators, size=per_image, replace=False)
            pairs_image.extend([i] * per_image)
            pairs_user.extend(chosen.tolist())
        for a in range(n_annotators):  # each annotator's cursor somewhere in their walk
            cursors[a] = int(keys[rng.integers(n_images)])
    else:
        per_annotator = n_annotations // n_annotators
        buckets = 1
        while buckets * 32 < n_images:
            buckets *= 2
        shift = KEY_BITS - (buckets.bit_length() - 1)
        bucket_of = keys >> shift
        order = np.argsort(bucket_of, kind="stable")
        for a in range(n_annotators):
            start = dataset.start_key_for(int(user_ids[a])) >> shift
            ring = (bucket_of - start) % buckets
            walk = np.lexsort((np.arange(n_images), ring))  # by bucket from theirs; within, refined below
            done = walk[:per_annotator]
            last_bucket = ring[done[-1]]
            inside = walk[ring[walk] == last_bucket]
            inside = sorted(inside, key=lambda i: dataset.annotator_key(int(user_ids[a]), sha[i]))
            full = walk[ring[walk] < last_bucket]
            done = np.concatenate([full, np.array(inside[: per_annotator - len(full)], dtype=np.int64)])
            pairs_image.extend(done.tolist())
            pairs_user.extend([a] * len(done))
            cursors[a] = int(keys[done[-1]])
        del order
    pairs_image = np.array(pairs_image)
    pairs_user = np.array(pairs_user)
    strokes = '[{"tool": "brush", "width": 12.0, "points": [[10.0, 10.0, 0.0, 0.5], [40.0, 30.0, 16.0, 0.5]]}]'
    copy_rows(
        "api_annotation",
        [
            "image_id",
            "annotator_id",
            "strokes",
            "label",
            "text",
            "status",
            "version",
            "started_at",
            "submitted_at",
            "active_ms",
            "client",
            "stroke_count",
            "point_count",
            "chunked",
            "last_op",
            "mask_area",
            "mask_rle",
            "created_at",
            "updated_at",
        ],
        (
            (
                int(image_ids[i]),
                int(user_ids[a]),
                strokes,
                None,
                "",
                "submitted",
                2,
                now,
                now,
                20000,
                "{}",
                1,
                2,
                False,
                "",
                0,
                "",
                now,
                now,
            )
            for i, a in zip(pairs_image, pairs_user, strict=True)
        ),
    )
    copy_rows(
        "api_assignment",
        ["dataset_id", "image_id", "annotator_id", "status", "leased_until", "skip_reason", "created_at", "updated_at"],
        (
            (dataset.pk, int(image_ids[i]), int(user_ids[a]), "submitted", None, "", now, now)
            for i, a in zip(pairs_image, pairs_user, strict=True)
        ),
    )
    counts = np.bincount(pairs_image, minlength=n_images)
    done_by = np.bincount(pairs_user, minlength=n_annotators)
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE counts (image_id bigint, n int)")
    copy_rows("counts", ["image_id", "n"], ((int(image_ids[i]), int(counts[i])) for i in range(n_images)))
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE api_image i SET reserved_count = c.n, submitted_count = c.n FROM counts c WHERE c.image_id = i.id"
        )
        cursor.execute("DROP TABLE counts")
    copy_rows(
        "api_annotatorprogress",
        [
            "dataset_id",
            "annotator_id",
            "submitted_count",
            "skipped_count",
            "active_ms",
            "cursor_order",
            "cursor_key",
            "cursor_image",
            "created_at",
        ],
        (
            (dataset.pk, int(user_ids[a]), int(done_by[a]), 0, int(done_by[a]) * 20000, "random", cursors[a], 0, now)
            for a in range(n_annotators)
        ),
    )
    return dataset, [tokens[int(pk)] for pk in user_ids]


def vacuum() -> None:
    from django.db import connection

    log("VACUUM ANALYZE")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


class InProcess:
    """Call the API in-process with Django's test client."""

    def __init__(self):
        from rest_framework.test import APIClient

        self.client = APIClient()
        self.requests = 0

    def get(self, path: str, token: str):
        self.requests += 1
        return self.client.get(path, HTTP_AUTHORIZATION=f"Token {token}")

    def put(self, path: str, body: dict, token: str):
        self.requests += 1
        return self.client.put(path, body, format="json", HTTP_AUTHORIZATION=f"Token {token}")


class OverHttp:
    """Call the API over HTTP on one keep-alive connection, as a browser does."""

    def __init__(self, base_url: str):
        import requests

        self.base_url = base_url
        self.session = requests.Session()
        self.requests = 0

    def get(self, path: str, token: str):
        self.requests += 1
        return self.session.get(self.base_url + path, headers={"Authorization": f"Token {token}"}, timeout=30)

    def put(self, path: str, body: dict, token: str):
        self.requests += 1
        return self.session.put(
            self.base_url + path, json=body, headers={"Authorization": f"Token {token}"}, timeout=30
        )


def measure(dataset, tokens, calls: int, seed: int, api) -> dict:
    """Time fresh hand-outs (after submitting the previous image) and resumed ones (the same image again)."""
    rng = np.random.default_rng(seed)
    url = f"/api/datasets/{dataset.pk}/next/"
    fresh, resumed = [], []
    body = {"strokes": [], "label": None, "text": "", "status": "submitted", "version": 0}
    for _ in range(20):  # warm up connections and caches
        api.get(url, tokens[0])
    held = set()
    for i in range(calls):
        token = tokens[rng.integers(len(tokens))]
        if token in held:  # hand the held image back done first, so the timed call is a new hand-out
            image = api.get(url, token).json()["image"]
            if image is not None:
                response = api.put(f"/api/images/{image['id']}/annotation/", body, token)
                assert response.status_code in (200, 201), response.content
        started = time.perf_counter()
        response = api.get(url, token)
        fresh.append(time.perf_counter() - started)
        assert response.status_code == 200, response.content
        held.add(token)
        if i % 10 == 0:
            started = time.perf_counter()
            again = api.get(url, token)
            resumed.append(time.perf_counter() - started)
            assert again.json()["image"] == response.json()["image"]

    baseline = []  # the floor of the stack: a signed-in request reading its user, no queue
    for i in range(min(calls, 300)):
        started = time.perf_counter()
        response = api.get("/api/auth/me/", tokens[i % len(tokens)])
        assert response.status_code == 200, response.content
        baseline.append(time.perf_counter() - started)

    def figures(samples):
        ms = [sample * 1000 for sample in samples]
        return {
            "n": len(ms),
            "p50": percentile(ms, 50),
            "p95": percentile(ms, 95),
            "p99": percentile(ms, 99),
            "max": max(ms),
            "mean": statistics.fmean(ms),
        }

    return {"fresh": figures(fresh), "resumed": figures(resumed), "auth/me": figures(baseline)}


def explain(dataset, token) -> list[str]:
    """EXPLAIN ANALYZE the queue's queries of one fresh hand-out; return the plans."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    client = APIClient()
    url = f"/api/datasets/{dataset.pk}/next/"
    auth = {"HTTP_AUTHORIZATION": f"Token {token}"}
    image = client.get(url, **auth).json()["image"]
    if image is not None:  # hand it back done, so that the explained call is a new hand-out
        body = {"strokes": [], "label": None, "text": "", "status": "submitted", "version": 0}
        client.put(f"/api/images/{image['id']}/annotation/", body, format="json", **auth)
    with CaptureQueriesContext(connection) as captured:
        client.get(url, **auth)
    lines = []
    for query in captured.captured_queries:
        sql = query["sql"]
        if not sql.startswith(("SELECT", "UPDATE")) or ("api_image" not in sql and "api_assignment" not in sql):
            continue
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING ON) " + sql)
            plan = [row[0] for row in cursor.fetchall()]
            transaction.set_rollback(True)
        lines.append(sql[:160] + ("..." if len(sql) > 160 else ""))
        lines += ["    " + line for line in plan]
    return lines


def main():
    args = parse_args()
    log(f"Machine: {describe(machine())}")
    scenarios = ["target", "everyone"] if args.scenario == "both" else [args.scenario]
    built = {}
    if args.reuse:
        setup_django(args.url)
        from django.contrib.auth.models import User
        from django.core.management import call_command

        from backend.api.models import Dataset
        from backend.api.services import api_token_create

        call_command("migrate", verbosity=0)
        for scenario in scenarios:
            dataset = Dataset.objects.get(slug=f"bench-{scenario}")
            # Only the keys' digests are stored: new tokens for the same users.
            users = User.objects.filter(username__startswith=f"{scenario}-").order_by("pk")
            tokens = [api_token_create(user=user).key for user in users]
            built[scenario] = (dataset, tokens)
    else:
        log(f"Recreating {args.url}")
        recreate_database(args.url)
        setup_django(args.url)
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        for scenario in scenarios:
            started = time.perf_counter()
            built[scenario] = build(scenario, args.images, args.annotations, args.seed)
            log(f"[{scenario}] built in {time.perf_counter() - started:.0f} s")
    vacuum()
    report = io.StringIO()
    with contextlib.ExitStack() as running:
        gunicorn = None
        if "gunicorn" in args.via:
            from bench.stack import gunicorn_env, running_gunicorn

            tmp = Path(running.enter_context(tempfile.TemporaryDirectory(prefix="eyetagger-next-")))
            gunicorn = running.enter_context(running_gunicorn(gunicorn_env(tmp, database_url=args.url), tmp, log=log))
        for scenario, (dataset, tokens) in built.items():
            for via in args.via:
                api = InProcess() if via == "client" else OverHttp(gunicorn.url)
                log(f"[{scenario}] timing {args.calls} calls via {via}; load average {load_average()}")
                # The CPU per request: Gunicorn's master and workers over HTTP; this process in-process.
                cpu = gunicorn.cpu_seconds() if via == "gunicorn" else time.process_time()
                workers = len(gunicorn.ready_pids()) if via == "gunicorn" else 0
                result = measure(dataset, tokens, args.calls, args.seed, api)
                if via == "gunicorn":
                    server = f"Gunicorn's CPU {(gunicorn.cpu_seconds() - cpu) / api.requests * 1000:.2f} ms a request"
                    server += f", {len(gunicorn.ready_pids()) - workers} workers recycled (max_requests)"
                else:
                    server = f"this process's CPU {(time.process_time() - cpu) / api.requests * 1000:.2f} ms a request"
                log(f"[{scenario}] {api.requests} requests via {via}; {server}; load average {load_average()}")
                for kind, f in result.items():
                    line = (
                        f"{scenario:9s} {via:8s} {kind:8s} n={f['n']:5d}  p50 {f['p50']:6.2f} ms  "
                        f"p95 {f['p95']:6.2f} ms  p99 {f['p99']:6.2f} ms  max {f['max']:7.2f} ms"
                    )
                    print(line, flush=True)
                    report.write(line + "\n")
                report.write(f"{scenario:9s} {via:8s} {server}\n")
            log(f"[{scenario}] EXPLAIN ANALYZE of one hand-out")
            for line in explain(dataset, tokens[1]):
                print(line)
    from backend.api.models import Annotation, Image

    log(f"Database: {Image.objects.count()} images, {Annotation.objects.count()} annotations in all")
    print("\nSummary\n" + report.getvalue())


if __name__ == "__main__":
    main()
