#!/usr/bin/env python
"""Saving annotations under load: PUT and PATCH /api/images/{id}/annotation/ against a bare ceiling.

Starts EyeTagger as in production on 127.0.0.1 (bench/stack.py: Gunicorn with
deploy/gunicorn.conf.py, DEBUG off, a scratch PostgreSQL database, generated 512x512 images,
one annotator with an API token per client), with bench/ceiling_settings.py, which adds one
endpoint to the production URLs: POST /api/bench/ceiling/, a DRF view behind the same
authentication and permission classes that inserts one row (the ceiling: the least a write
through this stack costs).

Then, for each number of clients and each load model, it runs the clients for --duration
seconds after --warmup seconds, against the save and against the ceiling one after the other.
The clients run in --generators separate processes (asyncio + aiohttp, one keep-alive
connection each), away from this orchestrating process.

Each save client is an annotator working as the app does: GET /api/datasets/{id}/next/, GET
the image's annotation (its version), then --saves-per-image PUTs of the whole strokes document
(10 strokes x 200 points of a random walk with per-point times and pressure, rounded as the app
rounds them; started_at, active_ms and client info), each with the version the previous answer
gave: the first creates the draft, then the text grows (nothing lost) or, every third save, the
last stroke is redrawn (undo and draw again: the old version is kept as a revision), and the
last one submits with an answer. Then the next image. The `patch` target sends the same
sequence as the app's incremental saves: the first PATCH creates the draft with its strokes,
then only the text, or an undo and the new stroke (remove 1, append 1), then the answer and the
submission.

Load models:
  closed  every client sends its next request as soon as the previous answer arrives (no think
          time): the server's capacity. Latency there is queueing: by Little's law, mean latency =
          clients / throughput, so it grows with the clients whatever the server does.
  paced   every client saves every --interval-ms, as a busy annotator does (the app sends one
          request at a time, debounced 400 ms after each change); latency is measured from the
          time each request was due, so a late answer that delays the next save counts too.

Every non-2xx answer, time-out or connection error counts as an error; any error makes the
script exit 1. The script prints a Markdown table ready to paste into docs/BENCHMARKS.md.

    .venv/bin/python bench/save_load.py                      # 8, 32, 100 clients; both models
    .venv/bin/python bench/save_load.py --clients 32 --models paced --duration 30 --repeats 3

One module of about 800 lines because the orchestrator runs this same file again as its client
processes (--generate): the clients, the documents they send and the report of their figures
travel together.
"""

import argparse
import asyncio
import json
import os
import re
import runpy
import signal
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.helpers import describe, log, machine, percentile  # noqa: E402  (the repository root is put on the path first)

SIDE = 512  # the stack's images: side x side
STROKES_PER_DOCUMENT = 10
POINTS_PER_STROKE = 200
CLIENT_INFO = {"user_agent": "Mozilla/5.0 (bench/save_load.py)", "device_pixel_ratio": 2.0, "pointer_types": ["pen"]}
# The ceiling's table (bench/ceiling_urls.py writes one row into it per request).
CEILING_TABLE_SQL = """
CREATE TABLE bench_ceiling_row (
    id bigserial PRIMARY KEY,
    user_id integer NOT NULL,
    value integer,
    created_at timestamptz NOT NULL DEFAULT now()
)
"""
VERSION_RE = re.compile(rb'"version":\s*(\d+)')
STARTED_AT_RE = re.compile(rb'"started_at":\s*"([^"]+)"')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--clients", type=int, nargs="+", default=[8, 32, 100], help="Concurrent clients (default: 8 32 100)."
    )
    parser.add_argument("--models", nargs="+", choices=["closed", "paced"], default=["closed", "paced"])
    parser.add_argument(
        "--targets", nargs="+", choices=["save", "patch", "ceiling"], default=["save", "patch", "ceiling"]
    )
    parser.add_argument("--duration", type=float, default=20.0, help="Measured seconds per run (default 20).")
    parser.add_argument("--warmup", type=float, default=5.0, help="Seconds of load before measuring (default 5).")
    parser.add_argument(
        "--prime", type=float, default=10.0, help="Seconds of unmeasured load on each endpoint before the first run."
    )
    parser.add_argument("--repeats", type=int, default=1, help="Runs of every (model, clients, target) (default 1).")
    parser.add_argument("--interval-ms", type=float, default=1000.0, help="Paced model: ms between a client's saves.")
    parser.add_argument("--saves-per-image", type=int, default=10, help="PUTs per image before the next (default 10).")
    parser.add_argument(
        "--spread-images",
        action="store_true",
        help="Give each client's first image fewer saves, so that the clients' image changes (next, open and the "
        "create) spread over the cycle; by default the paced clients change image within the same second.",
    )
    parser.add_argument("--images", type=int, default=600, help="Images in the dataset (every annotator sees all).")
    parser.add_argument("--generators", type=int, default=1, help="Client processes (default 1).")
    parser.add_argument("--workers", type=int, help="Gunicorn worker processes (WEB_CONCURRENCY; default: its config).")
    parser.add_argument(
        "--threads", type=int, help="Gunicorn threads per worker (GUNICORN_THREADS; default: its config)."
    )
    parser.add_argument(
        "--gunicorn-args",
        default="",
        help="More Gunicorn settings as its command line takes them (GUNICORN_CMD_ARGS, over its config), "
        "e.g. '--preload --max-requests 0'.",
    )
    parser.add_argument(
        "--server-url", default="postgres://postgres@127.0.0.1:5432/postgres", help="PostgreSQL server."
    )
    parser.add_argument(
        "--database-name",
        default=f"eyetagger_bench_save_load_{os.getpid()}",
        help="Scratch database, dropped after (default: named after this process, so two runs never share one).",
    )
    parser.add_argument("--request-timeout", type=float, default=30.0, help="Seconds before a request is an error.")
    parser.add_argument("--json", type=Path, help="Also write every run's figures to this file.")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--generate", type=Path, help=argparse.SUPPRESS)  # internal: be a client process
    args = parser.parse_args(argv)
    if args.saves_per_image < 2:
        parser.error("--saves-per-image must be at least 2 (a draft, then the submission)")
    if urlsplit(args.server_url).hostname not in ("127.0.0.1", "localhost"):
        parser.error(
            "--server-url must be a PostgreSQL server on 127.0.0.1: the benchmark creates and drops a database"
        )
    if min(args.clients) < 1 or args.duration <= 0 or args.warmup < 0 or args.repeats < 1 or args.generators < 1:
        parser.error("--clients, --duration, --repeats and --generators must be positive, --warmup not negative")
    return args


# --- The orchestrator ---------------------------------------------------------------------------


def main() -> int:
    args = parse_args()
    if args.generate:
        return generate(args.generate)
    runs = len(args.models) * len(args.clients) * len(args.targets) * args.repeats
    budget = 900 + 2 * args.prime + runs * (args.warmup + args.duration + args.request_timeout + 15)
    log(f"{runs} runs; giving up after {budget / 60:.0f} minutes")
    signal.signal(signal.SIGALRM, _out_of_time)
    signal.alarm(int(budget))
    from bench.stack import running_stack

    env = {"DJANGO_SETTINGS_MODULE": "bench.ceiling_settings"}
    if args.workers:
        env["WEB_CONCURRENCY"] = str(args.workers)
    if args.threads:
        env["GUNICORN_THREADS"] = str(args.threads)
    if args.gunicorn_args:
        env["GUNICORN_CMD_ARGS"] = args.gunicorn_args
    started = datetime.now(UTC)
    results = []
    try:
        with running_stack(
            images=args.images,
            annotators=max(args.clients),
            side=SIDE,
            server_url=args.server_url,
            database_name=args.database_name,
            env=env,
            log=log,
        ) as stack:
            host = describe_machine(stack)
            log(f"Creating the ceiling's table; PostgreSQL {host['postgres']}")
            prepare_ceiling(stack)
            if args.prime:
                # A worker's first requests import code and open connections; none of that is measured.
                for target in args.targets:
                    log(f"Priming: {args.prime:g} s of {target}, {max(args.clients)} clients, not measured")
                    primed = run_once(stack, args, target=target, model="closed", clients=max(args.clients), prime=True)
                    if primed["errors"]:
                        raise RuntimeError(f"priming failed: {primed['error_samples']}")
            for repeat in range(args.repeats):
                for model in args.models:
                    for clients in args.clients:
                        # Alternate which target goes first, so neither always runs on a warmer machine.
                        order = args.targets if repeat % 2 == 0 else list(reversed(args.targets))
                        for target in order:
                            log(f"Run {repeat + 1}/{args.repeats}: {model}, {clients} clients, {target}")
                            result = run_once(stack, args, target=target, model=model, clients=clients)
                            result["repeat"] = repeat
                            results.append(result)
                            log(one_line(result))
            log("Checking the queue's counters after the load")
            problems = check_queue(stack)
    except TimeoutError as error:
        log(f"FAILED: {error}")
        return 1
    finally:
        signal.alarm(0)
    report = markdown_report(results, args, host, started)
    print(report)
    if args.json:
        args.json.write_text(json.dumps({"machine": host, "args": vars(args), "results": results}, default=str))
    errors = sum(r["errors"] for r in results)
    if problems:
        log("FAILED: the queue's counters are wrong after the load: " + "; ".join(problems))
        return 1
    if errors:
        log(f"FAILED: {errors} requests failed (first: {first_error(results)})")
        return 1
    log("Done: no errors")
    return 0


def _out_of_time(signum, frame):
    raise TimeoutError("out of time: the benchmark took longer than its budget")


def describe_machine(stack) -> dict:
    """Return ``helpers.machine()`` with the server's synchronous_commit and the stack's Gunicorn."""
    import psycopg

    with psycopg.connect(stack.database_url, connect_timeout=10) as connection:
        synchronous = connection.execute("SHOW synchronous_commit").fetchone()[0]
    conf = gunicorn_settings(stack.env)
    return {
        **machine(database_url=stack.database_url),
        "synchronous_commit": synchronous,
        "gunicorn": f"{conf['workers']} workers x {conf['threads']} threads ({conf['worker_class']})"
        + (f" with `{stack.env['GUNICORN_CMD_ARGS']}`" if stack.env.get("GUNICORN_CMD_ARGS") else ""),
    }


def gunicorn_settings(env: dict[str, str]) -> dict:
    """Return deploy/gunicorn.conf.py's settings as they are under the stack's environment."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        return runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))
    finally:
        os.environ.clear()
        os.environ.update(saved)


def prepare_ceiling(stack) -> None:
    import psycopg

    with psycopg.connect(stack.database_url, autocommit=True, connect_timeout=10) as connection:
        connection.execute(CEILING_TABLE_SQL)


def check_queue(stack) -> list[str]:
    """Return the problems queue_check finds in the dataset's counters (none expected)."""
    script = (
        "import json; from backend.api.models import Dataset; from backend.api.selectors import queue_check; "
        f"print(json.dumps(queue_check(dataset=Dataset.objects.get(pk={stack.dataset_id}))))"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        return [f"queue_check failed: {result.stderr.strip()[-500:]}"]
    return json.loads(result.stdout.strip().splitlines()[-1])


def run_once(stack, args, *, target: str, model: str, clients: int, prime: bool = False) -> dict:
    """Run clients against target for warmup + duration seconds in the generator processes; return the figures."""
    processes = min(args.generators, clients)
    warmup, duration = (0.0, args.prime) if prime else (args.warmup, args.duration)
    start_at = time.time() + 1.5  # time for the generators to start and connect
    measure_from, measure_to = start_at + warmup, start_at + warmup + duration
    generators = []
    for index in range(processes):
        mine = list(range(index, clients, processes))
        config = {
            "url": stack.url,
            "dataset": stack.dataset_id,
            "tokens": [stack.tokens[k] for k in mine],
            "client_ids": mine,
            "target": target,
            "model": model,
            "interval_ms": args.interval_ms,
            "saves_per_image": args.saves_per_image,
            "spread_images": args.spread_images,
            "start_at": start_at,
            "measure_from": measure_from,
            "measure_to": measure_to,
            "request_timeout": args.request_timeout,
            "seed": args.seed * 1000 + index,
        }
        config_path = stack.tmp / f"generator-{index}.json"
        config_path.write_text(json.dumps(config))
        process = subprocess.Popen(
            [sys.executable, __file__, "--generate", str(config_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        generators.append(process)
    # Sample the server's and the machine's CPU over the measured window, from here (this process is idle).
    _sleep_until(measure_from)
    before = cpu_sample(stack)
    _sleep_until(measure_to)
    after = cpu_sample(stack)
    parts = []
    deadline = measure_to + args.request_timeout + 30
    for process in generators:
        try:
            out, err = process.communicate(timeout=max(1.0, deadline - time.time()))
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
            raise TimeoutError(f"a client process did not finish in time: {err.strip()[-500:]}") from None
        if process.returncode != 0:
            raise RuntimeError(f"a client process failed ({process.returncode}): {err.strip()[-2000:]}")
        parts.append(json.loads(out))
    return merge(parts, target=target, model=model, clients=clients, duration=duration, cpu=(before, after))


def _sleep_until(moment: float) -> None:
    delay = moment - time.time()
    if delay > 0:
        time.sleep(delay)


def _ticks(pid: int) -> tuple[int, int]:
    """Return (own, waited-for children's) CPU ticks of a process, or zeros once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):  # a Gunicorn worker recycled after max_requests
        return 0, 0
    return int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])


def cpu_sample(stack) -> dict:
    """Return CPU seconds used so far by Gunicorn, by the database's backends, and by the whole machine.

    Gunicorn counts its master, its workers and the workers it recycled (its waited-for children).
    The database's share counts the backends connected to the scratch database now, so the
    window's figure misses what a backend that closed inside it used after the first sample
    (Gunicorn's connections live for CONN_MAX_AGE, 60 s, or until their worker is recycled).
    """
    import psycopg

    hz = os.sysconf("SC_CLK_TCK")
    master = stack.gunicorn.server.process.pid
    own, children = _ticks(master)
    workers = sum(sum(_ticks(pid)) for pid in stack.gunicorn.worker_pids())
    with psycopg.connect(stack.database_url, autocommit=True, connect_timeout=10) as connection:
        backends = [
            row[0]
            for row in connection.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ]
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return {
        "gunicorn": (own + children + workers) / hz,
        "postgres": {pid: sum(_ticks(pid)) / hz for pid in backends},
        "busy": (sum(fields) - idle) / hz,
        "total": sum(fields) / hz,
        "time": time.time(),
        "ready": stack.gunicorn.ready_pids(),  # every worker that has loaded the app so far
    }


def _postgres_seconds(before: dict, after: dict) -> float:
    """Return the CPU seconds the database's backends used between two samples (new backends from zero)."""
    return sum(seconds - before["postgres"].get(pid, 0.0) for pid, seconds in after["postgres"].items())


def merge(parts: list[dict], *, target: str, model: str, clients: int, duration: float, cpu) -> dict:
    """Combine the generators' figures into one run's: throughput, percentiles, errors, CPU shares."""
    before, after = cpu
    wall = after["time"] - before["time"]
    cores = os.cpu_count() or 1
    main_kind = target
    latencies = sorted(value for part in parts for value in part["latencies"][main_kind])
    others = sorted(value for part in parts for kind in ("next", "open") for value in part["latencies"].get(kind, []))
    errors = sum(part["errors"] for part in parts)
    samples = [sample for part in parts for sample in part["error_samples"]]
    return {
        "target": target,
        "model": model,
        "clients": clients,
        "requests": len(latencies),
        "rps": len(latencies) / duration,
        "p50": percentile(latencies, 50),
        "p95": percentile(latencies, 95),
        "p99": percentile(latencies, 99),
        "max": latencies[-1] if latencies else None,
        "mean": statistics.fmean(latencies) if latencies else None,
        "other_requests": len(others),
        "other_p50": percentile(others, 50),
        "other_p99": percentile(others, 99),
        "errors": errors,
        "error_samples": samples[:5],
        "client_cpu": sum(part["cpu_seconds"] for part in parts) / duration,  # cores' worth
        "gunicorn_cpu": (after["gunicorn"] - before["gunicorn"]) / wall,
        "postgres_cpu": _postgres_seconds(before, after) / wall,
        # CPU per request of the run's endpoint (the save clients' next and open requests included):
        # what the machine's noise changes least.
        "gunicorn_ms": (after["gunicorn"] - before["gunicorn"]) / max(1, len(latencies)) * 1000,
        # The requests' own CPU in their thread, inside Django, and the collector's part of it.
        "django_ms": sum(part["thread_cpu"][main_kind][0] for part in parts) / max(1, len(latencies)),
        "gc_ms": sum(part["thread_cpu"][main_kind][1] for part in parts) / max(1, len(latencies)),
        "postgres_ms": _postgres_seconds(before, after) / max(1, len(latencies)) * 1000,
        "machine_cpu": (after["busy"] - before["busy"]) / (after["total"] - before["total"]) * cores,
        "cores": cores,
        # Workers Gunicorn started inside the window: each one recycled after max_requests, whose
        # replacement imports the app (seconds of CPU) unless the app is preloaded.
        "workers_started": len(after["ready"] - before["ready"]),
    }


def one_line(r: dict) -> str:
    return (
        f"{r['model']} {r['clients']:>3} {r['target']:<7} {r['rps']:7.1f} req/s  p50 {fmt(r['p50'])}  "
        f"p95 {fmt(r['p95'])}  p99 {fmt(r['p99'])} ms  errors {r['errors']}  "
        f"CPU: clients {r['client_cpu']:.2f}, gunicorn {r['gunicorn_cpu']:.2f}, postgres {r['postgres_cpu']:.2f}, "
        f"machine {r['machine_cpu']:.2f} of {r['cores']} cores; per request: gunicorn {r['gunicorn_ms']:.1f} ms, "
        f"postgres {r['postgres_ms']:.1f} ms, in Django's thread {r['django_ms']:.1f} ms (GC {r['gc_ms']:.1f}); "
        f"workers started {r['workers_started']}"
        + (f"  (next+open: {r['other_requests']}, p50 {fmt(r['other_p50'])} ms)" if r["other_requests"] else "")
    )


def fmt(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def first_error(results: list[dict]) -> str:
    return next((sample for r in results for sample in r["error_samples"]), "none recorded")


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def markdown_report(results: list[dict], args, host: dict, started: datetime) -> str:
    """Return the results as Markdown: machine, command, one table per model (medians of repeats), ratios, targets."""
    command = "bench/save_load.py " + " ".join(sys.argv[1:])
    lines = [
        f"Run of {started:%Y-%m-%d %H:%M} UTC, {args.repeats} repeat(s); medians of the repeats, "
        "ratios taken within each repeat.",
        "",
        f"Machine: {describe(host)} before the run; synchronous_commit {host['synchronous_commit']}, "
        f"Gunicorn {host['gunicorn']}.",
        f"Command: `.venv/bin/python {command.strip()}`",
        f"Per run: {args.warmup:g} s warm-up, {args.duration:g} s measured; {args.generators} client process(es); "
        f"save clients PUT {STROKES_PER_DOCUMENT} strokes x {POINTS_PER_STROKE} points, "
        f"{args.saves_per_image} saves per image" + (", image changes spread." if args.spread_images else "."),
        "",
    ]
    ratios: dict[tuple[str, int], list[float]] = {}
    by_run = {(r["repeat"], r["model"], r["clients"], r["target"]): r for r in results}
    for (repeat, model, clients, target), r in by_run.items():
        if target != "ceiling" and (repeat, model, clients, "ceiling") in by_run:
            ceiling = by_run[(repeat, model, clients, "ceiling")]
            if ceiling["rps"]:
                ratios.setdefault((model, clients, target), []).append(r["rps"] / ceiling["rps"])
    for model in args.models:
        title = {
            "closed": "Closed loop (no think time: the server's capacity; latency is clients / throughput)",
            "paced": f"Paced (each client saves every {args.interval_ms:g} ms; latency from when a request was due)",
        }[model]
        lines += [
            f"**{title}**",
            "",
            "| clients | endpoint | req/s | p50 ms | p95 ms | p99 ms | errors | CPU ms/req: Django (GC) "
            "| CPU ms/req: Gunicorn | CPU ms/req: Postgres | CPU: clients | CPU: machine | workers started |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for clients in args.clients:
            for target in args.targets:
                runs = [r for r in results if r["model"] == model and r["clients"] == clients and r["target"] == target]
                if not runs:
                    continue
                name = {
                    "save": "save (`PUT …/annotation/`)",
                    "patch": "save (`PATCH …/annotation/`)",
                    "ceiling": "ceiling (one row)",
                }[target]
                cpu = [
                    _median([r[key] for r in runs])
                    for key in ("gunicorn_ms", "postgres_ms", "client_cpu", "machine_cpu", "django_ms", "gc_ms")
                ]
                lines.append(
                    f"| {clients} | {name} | {fmt(_median([r['rps'] for r in runs]))} "
                    f"| {fmt(_median([r['p50'] for r in runs]))} | {fmt(_median([r['p95'] for r in runs]))} "
                    f"| {fmt(_median([r['p99'] for r in runs]))} | {sum(r['errors'] for r in runs)} "
                    f"| {cpu[4]:.1f} ({cpu[5]:.1f}) | {cpu[0]:.1f} | {cpu[1]:.1f} | {cpu[2]:.2f} "
                    f"| {cpu[3]:.2f} of {runs[0]['cores']} | {sum(r['workers_started'] for r in runs)} |"
                )
            for target in ("save", "patch"):
                if (model, clients, target) in ratios and model == "closed":
                    ratio = _median(ratios[(model, clients, target)])
                    method = "PUT" if target == "save" else "PATCH"
                    lines.append(f"| {clients} | **{method} / ceiling** | **{ratio:.2f}** |" + " |" * 10)
        lines.append("")
    lines.append(
        "CPU ms/req: Django (GC) is the request's own CPU time in its thread inside Django, and the garbage "
        "collector's part of it; Gunicorn and Postgres are the CPU time of Gunicorn (all workers, all threads) "
        "and of the database's backends over the measured window per request of the row's endpoint (a save "
        "row's includes its clients' `next` and annotation GETs). CPU: clients and CPU: machine are cores' worth "
        "(the machine's includes any other work on it). Workers started: Gunicorn workers that loaded the app "
        "inside the measured windows, all repeats together (a worker recycled after `max_requests` is replaced)."
    )
    lines += ["", "Targets:", ""]
    for target, method in (("save", "PUT"), ("patch", "PATCH")):
        for model, name in (("paced", "paced"), ("closed", "closed loop")):
            runs = [r for r in results if r["model"] == model and r["clients"] == 32 and r["target"] == target]
            if runs:
                p99 = _median([r["p99"] for r in runs])
                verdict = "met" if p99 is not None and p99 < 100 else "missed"
                lines.append(f"- {method} save p99 under 100 ms at 32 clients ({name}): {fmt(p99)} ms, **{verdict}**")
    for (model, clients, target), values in sorted(ratios.items()):
        if model == "closed":
            ratio = _median(values)
            verdict = "met" if ratio >= 0.5 else "missed"
            method = "PUT" if target == "save" else "PATCH"
            lines.append(
                f"- {method} save throughput at least half the ceiling at {clients} clients: {ratio:.2f}, **{verdict}**"
            )
    return "\n".join(lines)


# --- The client processes -----------------------------------------------------------------------


def generate(config_path: Path) -> int:
    """Be a client process: read the run's configuration, run the clients, print their figures as JSON."""
    config = json.loads(config_path.read_text())
    figures = asyncio.run(_generate(config))
    print(json.dumps(figures))
    return 0


class Documents:
    """Strokes documents as the app encodes them, each stroke's JSON made once (as the app caches it)."""

    def __init__(self, seed: int, count: int = 32, alternatives: int = 4):
        import numpy as np

        rng = np.random.default_rng(seed)
        self.rng = rng
        self.documents = []  # each: (ten stroke JSON texts, alternative last strokes)
        for _ in range(count):
            strokes, t = [], 0.0
            for k in range(STROKES_PER_DOCUMENT + alternatives):
                tool = "eraser" if k == STROKES_PER_DOCUMENT - 3 else "brush"
                strokes.append(self._stroke(rng, tool, t))
                if k < STROKES_PER_DOCUMENT - 1:
                    t = strokes[-1][1] + float(rng.uniform(200, 1500))  # a pause between strokes
            self.documents.append(([s[0] for s in strokes[:STROKES_PER_DOCUMENT]], [s[0] for s in strokes[10:]]))

    @staticmethod
    def _stroke(rng, tool: str, t0: float) -> tuple[str, float]:
        """Return a random-walk stroke's JSON (x, y to 1/1000 px, t to 0.1 ms, p to 0.001) and its last t."""
        import numpy as np

        start = rng.uniform(64, SIDE - 64, size=2)
        walk = np.clip(start + np.cumsum(rng.normal(0, 2.5, size=(POINTS_PER_STROKE, 2)), axis=0), -20, SIDE + 20)
        times = np.round(t0 + np.cumsum(rng.uniform(4, 20, size=POINTS_PER_STROKE)), 1)
        pressure = np.round(rng.uniform(0.2, 0.9, size=POINTS_PER_STROKE), 3)
        points = [
            [round(float(x), 3), round(float(y), 3), float(ms), float(p)]
            for (x, y), ms, p in zip(walk, times, pressure, strict=True)
        ]
        stroke = {"tool": tool, "width": round(float(rng.uniform(6, 30)), 1), "points": points}
        return json.dumps(stroke, separators=(",", ":")), float(times[-1])

    def pick(self) -> tuple[list[str], list[str]]:
        return self.documents[int(self.rng.integers(len(self.documents)))]


def body(strokes: list[str], rest: dict) -> bytes:
    """Return the PUT body as the app builds it: the cached strokes' JSON joined, then the other fields."""
    return ('{"strokes":[' + ",".join(strokes) + "]," + json.dumps(rest, separators=(",", ":"))[1:]).encode()


def patch_body(change: dict, rest: dict, *, first: bool) -> bytes:
    """Return the PATCH body as the app builds it: the appended strokes' cached JSON, then what changed."""
    fields = {name: change[name] for name in ("label", "text", "status") if name in change}
    head = {"version": rest["version"], "remove": change["remove"], "op": rest["op"], "active_ms": rest["active_ms"]}
    if first:
        head["started_at"] = rest["started_at"]
    head.update(client=rest["client"], **fields)
    return ('{"append":[' + ",".join(change["append"]) + "]," + json.dumps(head, separators=(",", ":"))[1:]).encode()


class Recorder:
    """Latencies (ms) of requests that finished inside the measured window, and every error."""

    def __init__(self, measure_from: float, measure_to: float):
        self.measure_from, self.measure_to = measure_from, measure_to
        self.latencies: dict[str, list[float]] = {"save": [], "patch": [], "ceiling": [], "next": [], "open": []}
        # Django's CPU ms in the request's thread, and the garbage collector's part, per request (from
        # bench/ceiling_settings.py's middleware), summed by kind.
        self.thread_cpu: dict[str, list[float]] = {kind: [0.0, 0.0] for kind in self.latencies}
        self.errors = 0
        self.error_samples: list[str] = []

    def ok(self, kind: str, due: float, done: float, headers) -> None:
        if self.measure_from <= done < self.measure_to:
            self.latencies[kind].append((done - due) * 1000)
            self.thread_cpu[kind][0] += float(headers.get("X-Bench-CPU-ms", 0))
            self.thread_cpu[kind][1] += float(headers.get("X-Bench-GC-ms", 0))

    def error(self, what: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(what[:300])


async def _generate(config: dict) -> dict:
    recorder = Recorder(config["measure_from"], config["measure_to"])
    documents = Documents(config["seed"]) if config["target"] != "ceiling" else None
    timeout = aiohttp.ClientTimeout(total=config["request_timeout"])
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, force_close=False)
    async with aiohttp.ClientSession(config["url"], connector=connector, timeout=timeout) as session:
        _sleep = config["start_at"] - time.time()
        if _sleep > 0:
            await asyncio.sleep(_sleep)
        cpu_from = None

        async def cpu_mark():
            nonlocal cpu_from
            await asyncio.sleep(max(0.0, config["measure_from"] - time.time()))
            cpu_from = time.process_time()
            await asyncio.sleep(max(0.0, config["measure_to"] - time.time()))
            return time.process_time() - cpu_from

        clients = [
            (CeilingClient if config["target"] == "ceiling" else SaveClient)(
                session, token, config, recorder, documents, number=number
            )
            for token, number in zip(config["tokens"], config["client_ids"], strict=True)
        ]
        marker = asyncio.create_task(cpu_mark())
        await asyncio.gather(*(client.run() for client in clients))
        cpu_seconds = await marker
    return {
        "latencies": recorder.latencies,
        "thread_cpu": recorder.thread_cpu,
        "errors": recorder.errors,
        "error_samples": recorder.error_samples,
        "cpu_seconds": cpu_seconds,
    }


class Client:
    """One client: requests one after the other until the run ends, closed loop or paced."""

    def __init__(self, session, token: str, config: dict, recorder: Recorder, documents, *, number: int):
        self.session, self.config, self.recorder, self.documents = session, config, recorder, documents
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        # As the app's saves ask: the answer without the strokes just sent (the version is all they need).
        self.save_headers = {**self.headers, "Prefer": "return=minimal"}
        self.number = number
        self.paced = config["model"] == "paced"
        self.interval = config["interval_ms"] / 1000
        self.end = config["measure_to"]

    async def run(self) -> None:
        # Paced clients start at random moments within one interval, so they do not save in step.
        loop = asyncio.get_running_loop()
        offset = (self.number * 0.618034) % 1.0 * self.interval if self.paced else 0.0
        due = loop.time() + offset
        while time.time() < self.end:
            if self.paced:
                await asyncio.sleep(max(0.0, due - loop.time()))
                if time.time() >= self.end:
                    break
            started = loop.time()
            try:
                await self.step(due if self.paced else started)
            except StopClient:
                return
            if self.paced:
                due += self.interval
                due = max(due, started)  # never owe more than one late request

    async def request(
        self, kind: str, method: str, path: str, *, data: bytes | None = None, due: float, headers=None
    ) -> bytes | None:
        """Send one request; record its latency from ``due``; return the body of a 2xx answer, or None."""
        loop = asyncio.get_running_loop()
        wall_offset = time.time() - loop.time()
        try:
            async with self.session.request(method, path, data=data, headers=headers or self.headers) as response:
                content = await response.read()
                if 200 <= response.status < 300:
                    self.recorder.ok(kind, due + wall_offset, loop.time() + wall_offset, response.headers)
                    return content
                self.recorder.error(f"{method} {path}: {response.status} {content[:200]!r}")
        except (TimeoutError, aiohttp.ClientError) as error:
            self.recorder.error(f"{method} {path}: {type(error).__name__} {error}")
        return None


class StopClient(Exception):
    """The client cannot go on (its annotator has no image left)."""


class CeilingClient(Client):
    async def step(self, due: float) -> None:
        payload = json.dumps({"value": self.number}).encode()
        await self.request("ceiling", "POST", "/api/bench/ceiling/", data=payload, due=due)


class SaveClient(Client):
    """An annotator: next image, open its annotation, saves_per_image PUTs of the whole document, next image."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.image = None
        self.saves = 0
        self.version = 0
        # The paced clients all start within one interval, so by default they change image (`next`,
        # open, and the create: the heaviest save) in the same second, every saves_per_image
        # intervals. With --spread-images each client's first image gets fewer saves, so that their
        # image changes spread over the cycle, as independent annotators' would.
        cycle = self.config["saves_per_image"]
        spread = int((self.number * 0.381966) % 1.0 * (cycle - 1)) if self.config["spread_images"] else 0
        self.quota = cycle - spread  # 2 .. cycle saves on the first image

    async def step(self, due: float) -> None:
        loop = asyncio.get_running_loop()
        if self.image is None:
            await self.open_next(due)
            due = loop.time()  # the save below is due once the image is open
            if self.image is None:
                return
        k = self.saves
        last = k == self.quota - 1
        strokes = self.strokes
        change = {"remove": 0, "append": strokes if k == 0 else []}  # what a PATCH sends
        if k and k % 3 == 2 and not last:
            # Undo the last stroke and draw another: the replaced version is kept as a revision.
            self.alternative = (self.alternative + 1) % len(self.alternatives)
            self.strokes = strokes = strokes[:-1] + [self.alternatives[self.alternative]]
            change = {"remove": 1, "append": strokes[-1:]}
        elif k and not last:
            self.text += f" word{k}"  # typing on: nothing lost
            change["text"] = self.text.strip()
        rest = {
            "label": ("real" if self.number % 2 else "fake") if last else None,
            "text": self.text.strip(),
            "status": "submitted" if last else "draft",
            "version": self.version,
            "active_ms": 4000 + 1000 * k,
            "started_at": self.started_at,
            "client": CLIENT_INFO,
        }
        path = f"/api/images/{self.image}/annotation/"
        if self.config["target"] == "patch":
            if last:
                change.update(label=rest["label"], status="submitted")
            data = patch_body(change, {**rest, "op": f"c{self.number}-{self.image}-{self.version}"}, first=k == 0)
            answer = await self.request("patch", "PATCH", path, data=data, due=due)
        else:
            answer = await self.request(
                "save", "PUT", path, data=body(strokes, rest), due=due, headers=self.save_headers
            )
        if answer is None:
            self.image = None  # start again from the queue, as the app would after reloading
            return
        self.version = int(VERSION_RE.search(answer).group(1))
        self.saves += 1
        if last:
            self.image = None
            self.quota = self.config["saves_per_image"]

    async def open_next(self, due: float) -> None:
        answer = await self.request("next", "GET", f"/api/datasets/{self.config['dataset']}/next/", due=due)
        if answer is None:
            return
        handout = json.loads(answer)
        if handout["image"] is None:
            self.recorder.error(f"client {self.number} has no image left: raise --images")
            raise StopClient
        image = handout["image"]["id"]
        stored = await self.request(
            "open", "GET", f"/api/images/{image}/annotation/", due=asyncio.get_running_loop().time()
        )
        if stored is None:
            return
        self.image, self.saves = image, 0
        self.version = int(VERSION_RE.search(stored).group(1))
        found = STARTED_AT_RE.search(stored)
        self.started_at = found.group(1).decode() if found else datetime.now(UTC).isoformat()
        self.strokes, self.alternatives = (list(part) for part in self.documents.pick())
        self.alternative = 0
        self.text = ""


if __name__ == "__main__":
    sys.exit(main())
