"""Fixtures of the container tests: images built once, one production stack shared in file order.

The modules run in the order of their names (test_01_... to test_07_...): each leaves the stack
as it found it (up, healthy, one web replica) except the last two, which take it down to run
the development compose and the upgrade on the same published ports.
"""

import json
import secrets
import time
from pathlib import Path

import pytest

from deploy.containers import stack as ctr

DATASET = "demo-irises"
ANNOTATORS = ["ann1", "ann2"]


def _wait_for_the_background_build() -> None:
    """`make test` starts `stack.py prepare` early (STATE/prepare.pid); wait for it rather than build twice."""
    pid_file = ctr.STATE / "prepare.pid"
    if not pid_file.exists():
        return
    pid = int(pid_file.read_text())
    waited = time.monotonic()
    while Path(f"/proc/{pid}").exists() and "stack" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace"):
        time.sleep(2)
    if time.monotonic() - waited > 1:
        ctr.log(f"waited {time.monotonic() - waited:.0f} s for the background build (log: {ctr.STATE / 'prepare.log'})")
    pid_file.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def built():
    """The engine, the base images and `docker compose build` of the working tree, or a skip saying why."""
    _wait_for_the_background_build()
    try:
        return ctr.prepare(label="tests")
    except ctr.NoEngine as reason:
        pytest.skip(f"container tests skipped: no container engine here: {reason}")


@pytest.fixture(scope="session")
def stack(built):
    """The production stack, up and healthy, with the demo dataset and accounts made by the operator's commands."""
    built.down("-v")
    try:
        with ctr.step("docker compose up -d (until healthy)"):
            built.up()
        yield built
    except Exception:
        print(built.logs())
        raise
    finally:
        with ctr.step("docker compose down -v"):
            built.down("-v")


@pytest.fixture(scope="session")
def accounts(stack) -> dict[str, str]:
    """Import the demo dataset and create the admin and annotators, as docs/operations.md writes it."""
    passwords = {"admin": secrets.token_urlsafe(16)}
    with ctr.step("operator: import the demo dataset, create the admin and annotators"):
        stack.sh(
            "docker compose exec -T web python manage.py import_dataset /datasets/demo "
            '--slug demo-irises --name "Demo irises" --question "Is this image real or fake?" '
            "--choices real,fake --require choice,mask"
        )
        stack.sh(
            f"docker compose exec -T -e DJANGO_SUPERUSER_PASSWORD={passwords['admin']} web "
            "python manage.py createsuperuser --no-input --username admin --email admin@example.org"
        )
        (stack.dir / "users.csv").write_text("".join(f"{name},{name}@example.org,\n" for name in ANNOTATORS))
        create = "docker compose exec -T web python manage.py create_annotators /dev/stdin < users.csv"
        printed = stack.sh(create).stdout
    for line in printed.splitlines():
        name, *rest = line.split()
        if name in ANNOTATORS:
            passwords[name] = rest[0]
    assert set(passwords) == {"admin", *ANNOTATORS}, printed
    return passwords


def fingerprint(stack: ctr.Stack, database: str | None = None, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """Return {table: "rows md5"} for every table in the database: equal fingerprints, equal data."""
    query = (
        "SELECT format('SELECT %L, count(*), md5(coalesce(string_agg(t::text, %L ORDER BY t::text), %L)) FROM %I t', "
        "tablename, chr(10), '', tablename) FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename \\gexec\n"
    )
    rows = stack.psql(query, database).splitlines()
    result = {}
    for row in rows:
        table, count, digest = row.split("|")
        if table not in skip:
            result[table] = f"{count} {digest}"
    return result


def record(name: str, value) -> None:
    """Keep a figure (an image size...) for the summary printed at the end."""
    path = ctr.STATE / "figures.json"
    figures = json.loads(path.read_text()) if path.exists() else {}
    figures[name] = value
    path.write_text(json.dumps(figures, indent=1))


def pytest_terminal_summary(terminalreporter):
    times = ctr.recorded_times()
    figures_path = ctr.STATE / "figures.json"
    if not times and not figures_path.exists():
        return
    terminalreporter.section("container tests: step times and image sizes")
    for name, seconds in times.items():
        terminalreporter.write_line(f"{seconds:8.1f} s  {name}")
    if figures_path.exists():
        for name, value in json.loads(figures_path.read_text()).items():
            terminalreporter.write_line(f"{value:>10}  {name}")


def pytest_sessionstart(session):
    # Keep the background build's times (it is running or has just run for this `make test`).
    (ctr.STATE / "figures.json").unlink(missing_ok=True)
    if not (ctr.STATE / "prepare.pid").exists():
        (ctr.STATE / "times.json").unlink(missing_ok=True)
