#!/usr/bin/env python
"""Send every operation of the OpenAPI schema hostile requests as every role, for longer than the test suite does.

The same harness as backend/api/tests/test_schema_fuzz.py (backend/api/tests/fuzzing.py):
schemathesis generates requests from /api/schema/ — ones that fit the schema and ones that
break it — and sends each as anonymous, an annotator (who may work on one of the two
datasets), a researcher and an admin, in process through Django's whole stack (no network,
nothing listens on any port); then every coverage case of the schema (boundaries, wrong
types, missing fields, unexpected methods) as an admin. Every answer is checked: no 5xx,
every 4xx in the API's error shape with a detail, every status documented, every documented
body matching its schema.

It runs on a temporary SQLite database (deleted afterwards) or, with --database-url, on a
scratch PostgreSQL database whose name contains "fuzz" (dropped and made anew, dropped at the
end). It prints a summary per operation and role (requests, statuses seen, failures), and the
first report of each distinct failure with a curl command to reproduce it, and exits 1 on any
failure. --time-limit stops it between operations, whatever is left.

    .venv/bin/python bench/fuzz_api.py --max-examples 100
    .venv/bin/python bench/fuzz_api.py --database-url postgres://postgres@127.0.0.1:5432/eyetagger_fuzz --seed 7
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.helpers import describe, log, machine  # noqa: E402  (the repository root is put on the path first)

ROLES = ("anonymous", "annotator", "researcher", "admin")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--max-examples",
        type=int,
        default=50,
        help="Generated requests per operation and mode, each sent as every role (default 50).",
    )
    parser.add_argument(
        "--modes", default="positive,negative", help="positive (fit the schema), negative (break it), or both."
    )
    parser.add_argument("--roles", default=",".join(ROLES), help=f"Comma-separated, of {', '.join(ROLES)}.")
    parser.add_argument("--operation", action="append", default=[], help="Only operations whose label holds this.")
    parser.add_argument("--no-coverage", action="store_true", help="Skip the schema's coverage cases.")
    parser.add_argument("--seed", type=int, help="Random seed; without one, every run sends the same requests.")
    parser.add_argument(
        "--time-limit", type=float, default=1800, help="Stop after this many seconds (between operations)."
    )
    parser.add_argument(
        "--database-url", help='A scratch PostgreSQL database whose name contains "fuzz"; default: a temporary SQLite.'
    )
    return parser.parse_args()


def recreate_database(url: str, *, drop_only: bool = False) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    if "fuzz" not in name:
        sys.exit(f"refusing to drop {name!r}: a scratch database's name must contain 'fuzz'")
    host = url.split("@")[-1].split("/")[0].split(":")[0]
    if host not in ("127.0.0.1", "localhost"):
        sys.exit(f"refusing {host!r}: this script only touches a database on 127.0.0.1")
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{name}"')


def setup_django(database_url: str, scratch: Path) -> None:
    os.environ.update(
        {
            "DATABASE_URL": database_url,
            "DEBUG": "false",  # as in production: errors are the error pages clients get, not debug pages
            "SECRET_KEY": "fuzzing-only-not-secret",
            "ALLOWED_HOSTS": "localhost",  # the host schemathesis's in-process client sends
            "SECURE_SSL_REDIRECT": "false",  # in process there is no TLS (Nginx's job in production)
            "DATASET_ROOT": str(scratch / "datasets"),
            "DATA_DIR": str(scratch),
            # Sign-in validation is fuzzed too: the throttle must not answer 429 to everything.
            "LOGIN_THROTTLE_RATE": "1000000/min",
            "CACHE_URL": "locmemcache://",
            "LOG_LEVEL": "WARNING",
            "EYETAGGER_ENV_FILES": "",
        }
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
    import django

    django.setup()
    from django.test.utils import override_settings

    # As in the test suite: PBKDF2 spends half a second on every sign-in attempt by design,
    # which would spend the run hashing the fuzzed logins' passwords.
    override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]).enable()


def main() -> int:
    args = parse_args()
    # As in the test suite (pyproject.toml): a RuntimeWarning is a bug (an unordered page, a NaN),
    # so it fails the request it happens in, and shows up as a 500.
    warnings.filterwarnings("error", category=RuntimeWarning)
    scratch = Path(tempfile.mkdtemp(prefix="eyetagger-fuzz-"))
    try:
        return run(args, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def run(args, scratch: Path) -> int:
    started = time.monotonic()
    database_url = args.database_url or f"sqlite:///{scratch / 'db.sqlite3'}"
    if args.database_url:
        recreate_database(args.database_url)
    setup_django(database_url, scratch)
    import schemathesis
    from django.core.management import call_command
    from django.db import connection

    from backend.api.tests.fuzzing import fuzz_operation, load_schema, seed_world

    log(f"Machine: {describe(machine())}; schemathesis {schemathesis.__version__}; {connection.vendor}")
    log(f"Migrating the scratch database ({database_url})")
    call_command("migrate", verbosity=0)
    log("Seeding two datasets, users of each role and their annotations")
    (scratch / "datasets").mkdir()
    world = seed_world(scratch / "datasets")
    schema = load_schema()
    roles = tuple(r for r in args.roles.split(",") if r)
    modes = tuple(schemathesis.GenerationMode(m) for m in args.modes.split(",") if m)
    coverage_roles = () if args.no_coverage else ("admin",)
    operations = [r.ok() for r in schema.get_all_operations()]
    if args.operation:
        operations = [op for op in operations if any(part in op.label for part in args.operation)]
    log(
        f"{len(operations)} operations x roles {', '.join(roles)}: {args.max_examples} generated requests per mode "
        f"({', '.join(modes)}), seed {args.seed if args.seed is not None else 'fixed'}"
        f"{'' if args.no_coverage else '; then every coverage case as admin'}"
    )

    results, skipped = {}, []
    for operation in operations:
        if time.monotonic() - started > args.time_limit:
            skipped.append(operation.label)
            continue
        t0 = time.monotonic()
        tallies = fuzz_operation(
            schema,
            operation,
            world,
            roles=roles,
            max_examples=args.max_examples,
            modes=modes,
            coverage_roles=coverage_roles,
            seed=args.seed,
        )
        results.update({(operation.label, role): tally for role, tally in tallies.items()})
        requests = sum(t.requests for t in tallies.values())
        failures = sum(len(t.failures) for t in tallies.values())
        log(f"{operation.label}: {requests} requests, {failures} failures, {time.monotonic() - t0:.1f} s")

    print()
    print(f"{'operation':46} {'role':10} {'requests':>8}  statuses                              failures")
    for (label, role), tally in sorted(results.items()):
        statuses = " ".join(f"{code}:{n}" for code, n in sorted(tally.statuses.items()))
        print(f"{label:46} {role:10} {tally.requests:8}  {statuses:37} {len(tally.failures)}")
    totals = Counter()
    for tally in results.values():
        totals.update(tally.statuses)
    requests = sum(totals.values())
    distinct = [
        (label, role, key, report) for (label, role), t in results.items() for key, report in t.failures.items()
    ]
    print()
    print(
        f"Total: {requests} requests in {time.monotonic() - started:.0f} s "
        f"({datetime.now(UTC):%Y-%m-%d %H:%M} UTC); statuses "
        + " ".join(f"{code}:{n}" for code, n in sorted(totals.items()))
        + f"; 5xx: {sum(n for code, n in totals.items() if code >= 500)}; distinct failures: {len(distinct)}"
    )
    if skipped:
        print(f"Time limit reached: {len(skipped)} operations not run: {', '.join(skipped)}")
    for label, role, key, report in distinct:
        print(f"\n--- {label} as {role}: {key}\n{report}")
    connection.close()
    if args.database_url:
        recreate_database(args.database_url, drop_only=True)
    return 1 if distinct or skipped else 0


if __name__ == "__main__":
    sys.exit(main())
