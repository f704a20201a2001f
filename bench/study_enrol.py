"""A study at crowd scale: 2,000 participants enrol by the study link, then 200 annotate at once.

Runs EyeTagger as in production (bench/stack.py: Gunicorn, DEBUG off, PostgreSQL) with a study
of four conditions between subjects on a generated dataset, then:

1. **Enrolment**: ``--participants`` browsers (2,000) each fetch the CSRF cookie and POST the
   study link's parameters (a Prolific id of their own), ``--clients`` at a time from this one
   machine. Checked: no error, every participant enrolled once (distinct numbers, distinct
   platform ids), the conditions within one participant of each other, all within 10 minutes.
   The per-address enrolment limit (STUDY_ENROL_THROTTLE_RATE) is raised for the run: every
   request comes from 127.0.0.1 (the limit itself is tested in the API suite).
2. **Annotating**: ``--annotating`` participants (200) at once consent and annotate their
   images (``trials`` then a save of each, submitted), and as many annotators with accounts do
   the same through ``next`` and their saves, on the same stack in the same run: the ratio of
   their latencies says whether participants annotate as fast as annotators do today.

    .venv/bin/python bench/study_enrol.py [--participants 2000] [--annotating 200]

Prints a JSON report (latencies in ms: median, p95, p99; the machine and its load). Needs the
PostgreSQL server of make test (TEST_POSTGRES_URL); makes and drops its own database.
"""

import argparse
import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.helpers import describe, load_average, log, machine, percentile  # noqa: E402
from bench.stack import running_stack  # noqa: E402
from deploy.tests.support import manage  # noqa: E402

IMAGES_PER_PARTICIPANT = 5
STROKE = {"tool": "brush", "width": 8.0, "points": [[40.0, 40.0, 0.0, 0.5], [120.0, 90.0, 30.0, 0.5]]}

STUDY = """
import json
from backend.api import services, studyfile
from backend.api.models import Dataset
dataset = Dataset.objects.get()
dataset.annotators_per_image = 3
dataset.save()
spec = {{
    "slug": "bench", "title": "Bench", "status": "open",
    "platform": {{"name": "prolific", "require_participant": True}},
    "conditions": [{{"slug": s}} for s in ("none", "label", "map", "both")],
    "assignment": {{"between": ["none", "label", "map", "both"]}},
    "steps": [
        {{"type": "consent", "version": "1", "text": "Agree?"}},
        {{"type": "annotation", "dataset": dataset.slug, "images": {images}}},
        {{"type": "finish", "text": "Thanks"}},
    ],
}}
services.study_import(text=studyfile.write_study(studyfile.canonical(spec)))
print(json.dumps({{"dataset": dataset.pk}}))
"""

CHECK = """
import json
from collections import Counter
from backend.api.models import Participant
rows = list(Participant.objects.values_list("number", "platform_key", "condition__slug"))
conditions = Counter(c for _, _, c in rows)
print(json.dumps({
    "participants": len(rows),
    "distinct_numbers": len({n for n, _, _ in rows}),
    "distinct_platform_ids": len({k for _, k, _ in rows}),
    "conditions": conditions,
}))
"""


def summary(values: list[float]) -> dict:
    return {
        "count": len(values),
        "median_ms": percentile(values, 50),
        "p95_ms": percentile(values, 95),
        "p99_ms": percentile(values, 99),
    }


def timed(out: list, method, *args, **kwargs):
    """Return method(*args, **kwargs), adding its time in ms to ``out``."""
    started = time.perf_counter()
    response = method(*args, **kwargs)
    out.append((time.perf_counter() - started) * 1000)
    return response


def enrol(url: str, number: int, latencies: list, errors: list) -> requests.Session | None:
    """One browser arriving by the study link; return its session (signed in as the participant)."""
    session = requests.Session()
    try:
        session.get(f"{url}/api/auth/csrf/", timeout=60)
        response = timed(
            latencies,
            session.post,
            f"{url}/api/studies/bench/enrol/",
            json={"params": {"PROLIFIC_PID": f"bench{number:06d}", "STUDY_ID": "s", "SESSION_ID": f"x{number}"}},
            headers={"X-CSRFToken": session.cookies.get("csrftoken", "")},
            timeout=60,
        )
        if response.status_code != 201:
            errors.append(f"enrol {number}: {response.status_code} {response.text[:200]}")
            return None
    except requests.RequestException as error:
        errors.append(f"enrol {number}: {error}")
        return None
    return session


def participate(url: str, session: requests.Session, timings: dict, errors: list) -> None:
    """Consent, then hand out and submit every image of the phase, as the app does."""
    headers = {"X-CSRFToken": session.cookies.get("csrftoken", ""), "Prefer": "return=minimal"}
    try:
        response = session.post(f"{url}/api/participation/steps/0/", json={"agree": True, "version": "1"},
                                headers=headers, timeout=60)  # fmt: skip
        if response.status_code != 200:
            errors.append(f"consent: {response.status_code} {response.text[:200]}")
            return
        for _ in range(IMAGES_PER_PARTICIPANT):
            body = timed(timings["next"], session.get, f"{url}/api/participation/trials/", timeout=60).json()
            if not body.get("trials"):
                break
            image = body["trials"][0]["image"]["id"]
            document = {"strokes": [STROKE], "label": "real", "text": "", "status": "submitted", "version": 0}
            put = f"{url}/api/participation/images/{image}/annotation/"
            saved = timed(timings["save"], session.put, put, json=document, headers=headers, timeout=60)
            if saved.status_code not in (200, 201):
                errors.append(f"save: {saved.status_code} {saved.text[:200]}")
                return
    except requests.RequestException as error:
        errors.append(f"participant: {error}")


def annotate(url: str, token: str, dataset: int, timings: dict, errors: list) -> None:
    """An annotator with an account doing the same work through next and saves, for comparison."""
    headers = {"Authorization": f"Token {token}", "Prefer": "return=minimal"}
    try:
        for _ in range(IMAGES_PER_PARTICIPANT):
            response = timed(timings["next"], requests.get, f"{url}/api/datasets/{dataset}/next/", headers=headers)
            image = response.json().get("image")
            if not image:
                break
            document = {"strokes": [STROKE], "label": "real", "text": "", "status": "submitted", "version": 0}
            put = f"{url}/api/images/{image['id']}/annotation/"
            saved = timed(timings["save"], requests.put, put, json=document, headers=headers, timeout=60)
            if saved.status_code not in (200, 201):
                errors.append(f"annotator save: {saved.status_code} {saved.text[:200]}")
                return
    except requests.RequestException as error:
        errors.append(f"annotator: {error}")


def run_all(jobs, clients: int) -> float:
    """Run the jobs (callables) on ``clients`` threads; return the wall time in seconds."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        for future in [pool.submit(job) for job in jobs]:
            future.result()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=2000, help="How many enrol (default 2000).")
    parser.add_argument("--annotating", type=int, default=200, help="How many annotate at once (default 200).")
    parser.add_argument("--clients", type=int, default=32, help="Browsers enrolling at a time (default 32).")
    parser.add_argument("--images", type=int, default=2000, help="Images in the dataset (default 2000).")
    args = parser.parse_args()
    server = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    env = {"STUDY_ENROL_THROTTLE_RATE": "1000000/min"}
    with running_stack(images=args.images, annotators=args.annotating, side=256, server_url=server,
                       database_name="eyetagger_bench_study", env=env) as stack:  # fmt: skip
        seeded = json.loads(
            manage("shell", "-c", STUDY.format(images=IMAGES_PER_PARTICIPANT), env=stack.env).stdout.splitlines()[-1]
        )
        report = {"machine": machine(database_url=stack.database_url), "load_before": load_average()}

        log(f"Enrolling {args.participants} participants, {args.clients} at a time")
        latencies, errors, sessions = [], [], []
        lock = threading.Lock()

        def one(number):
            session = enrol(stack.url, number, latencies, errors)
            if session is not None:
                with lock:
                    sessions.append(session)

        seconds = run_all([lambda n=n: one(n) for n in range(args.participants)], args.clients)
        checked = json.loads(manage("shell", "-c", CHECK, env=stack.env).stdout.splitlines()[-1])
        counts = list(checked["conditions"].values())
        report["enrolment"] = {
            "participants": args.participants,
            "seconds": round(seconds, 1),
            "per_second": round(args.participants / seconds, 1),
            "errors": len(errors),
            "first_errors": errors[:5],
            "latency": summary(latencies),
            **checked,
            "balanced_within_one": max(counts) - min(counts) <= 1,
        }
        log(json.dumps(report["enrolment"]))

        log(f"{args.annotating} participants and {args.annotating} annotators annotating at once")
        participants = {"next": [], "save": []}
        annotators = {"next": [], "save": []}
        work_errors: list = []
        jobs = [lambda s=s: participate(stack.url, s, participants, work_errors) for s in sessions[: args.annotating]]
        jobs += [lambda t=t: annotate(stack.url, t, seeded["dataset"], annotators, work_errors) for t in stack.tokens]
        seconds = run_all(jobs, 2 * args.annotating)
        report["annotating"] = {
            "seconds": round(seconds, 1),
            "errors": len(work_errors),
            "first_errors": work_errors[:5],
            "participants": {kind: summary(values) for kind, values in participants.items()},
            "annotators": {kind: summary(values) for kind, values in annotators.items()},
            "median_ratio_participant_to_annotator": {
                kind: round(percentile(participants[kind], 50) / percentile(annotators[kind], 50), 2)
                for kind in ("next", "save")
                if participants[kind] and annotators[kind]
            },
        }
        report["load_after"] = load_average()
        log(describe(report["machine"]))
        print(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
