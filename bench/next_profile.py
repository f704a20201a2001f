#!/usr/bin/env python
"""Profile fresh hand-outs, GET /api/datasets/{id}/next/, in-process: their queries, CPU and where it goes.

Runs on a database built by bench/next_latency.py (its datasets and annotators' tokens), through
Django's whole request stack with its test client, DEBUG off. Each timed call is a fresh
hand-out: the caller's previous image was submitted first (untimed). It prints the queries of
one fresh hand-out and of `auth/me`, the CPU time per hand-out (median and mean, no profiler),
then cProfile's top functions (CPU time) and its function calls per hand-out. It hands out and
submits images as the latency benchmark does: never run the two on one database at once.

    .venv/bin/python bench/next_profile.py --url postgres://postgres@127.0.0.1:5432/eyetagger_issue4_bench
"""

import argparse
import cProfile
import pstats
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.next_latency import InProcess, setup_django  # noqa: E402  (the root is on the path first)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="A database built by bench/next_latency.py.")
    parser.add_argument("--calls", type=int, default=300, help="Fresh hand-outs timed, then as many profiled.")
    parser.add_argument("--scenario", choices=["target", "everyone"], default="target")
    parser.add_argument("--top", type=int, default=40, help="Functions listed by cProfile (default 40).")
    return parser.parse_args()


def main():
    args = parse_args()
    setup_django(args.url)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.authtoken.models import Token

    from backend.api.models import Dataset

    dataset = Dataset.objects.get(slug=f"bench-{args.scenario}")
    tokens = list(
        Token.objects.filter(user__username__startswith=f"{args.scenario}-")
        .order_by("user_id")
        .values_list("key", flat=True)
    )
    api = InProcess()
    url = f"/api/datasets/{dataset.pk}/next/"
    body = {"strokes": [], "label": None, "text": "", "status": "submitted", "version": 0}

    def hand_back(token):
        image = api.get(url, token).json()["image"]
        if image is not None:
            response = api.put(f"/api/images/{image['id']}/annotation/", body, token)
            assert response.status_code in (200, 201), response.content

    for _ in range(20):  # warm up connections and caches
        api.get(url, tokens[0])
    hand_back(tokens[3])
    for label, path in (("fresh hand-out", url), ("auth/me", "/api/auth/me/")):
        with CaptureQueriesContext(connection) as captured:
            api.get(path, tokens[3])
        print(f"{label}: {len(captured.captured_queries)} queries (and the connection's health check)")
        for query in captured.captured_queries:
            print("   ", query["sql"][:150])

    rng = np.random.default_rng(11)
    cpu = []
    for i in rng.integers(len(tokens), size=args.calls):
        hand_back(tokens[i])
        started = time.process_time()
        assert api.get(url, tokens[i]).status_code == 200
        cpu.append((time.process_time() - started) * 1000)
    print(f"CPU per fresh hand-out: median {statistics.median(cpu):.2f} ms, mean {statistics.fmean(cpu):.2f} ms")

    profile = cProfile.Profile(time.process_time)  # CPU time: waiting on PostgreSQL or the machine is left out
    for i in rng.integers(len(tokens), size=args.calls):
        hand_back(tokens[i])
        profile.enable()
        assert api.get(url, tokens[i]).status_code == 200
        profile.disable()
    stats = pstats.Stats(profile)
    stats.sort_stats("cumulative").print_stats(args.top)
    print(f"function calls per fresh hand-out (cProfile): {stats.total_calls / args.calls:.0f}")


if __name__ == "__main__":
    main()
