"""backups.sh and deploy/restore.sh: round trips on Postgres and SQLite, under writes, and refusals.

Each test gets a migrated database holding a dataset and three annotators (copied from a
template made once per engine), and compares databases with annotation_writer.py's `state`:
every table's row count and content digest, and every annotation's content.
"""

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from .support import (
    PYTHON,
    REPO,
    Server,
    base_env,
    copy_demo_dataset,
    create_database,
    database_names,
    database_url,
    drop_databases_like,
    manage,
    require_commands,
    run_script,
    scratch_database_name,
)

WRITER = str(REPO / "deploy" / "tests" / "annotation_writer.py")
BACKUPS_SH = str(REPO / "backups.sh")
RESTORE_SH = str(REPO / "deploy" / "restore.sh")
# Tables the writer changes: annotations, their revisions, and (since the assignment queue)
# each annotator's progress row and their assignment of the image, which a save updates in the
# same transaction.
CHANGING_TABLES = {"api_annotation", "api_annotationrevision", "api_annotatorprogress", "api_assignment"}


@dataclass
class Database:
    """A scratch EyeTagger database and how to reach it."""

    engine: str
    url: str
    name: str  # Postgres: the database's name; SQLite: the file's path
    env: dict[str, str]
    tmp: Path

    def django_env(self, url: str | None = None) -> dict[str, str]:
        return {**self.env, "DATABASE_URL": url or self.url}

    def state(self, url: str | None = None) -> dict:
        result = subprocess.run(
            [PYTHON, WRITER, "state"], env=self.django_env(url), capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def write(self, saves: int) -> None:
        log = self.tmp / "prefill.jsonl"
        result = subprocess.run(
            [PYTHON, WRITER, "write", "--log", str(log), "--max-saves", str(saves)],
            env=self.django_env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr

    def backup(self, *args: str, backup_dir: Path | None = None) -> subprocess.CompletedProcess:
        env = {**self.env, "DATABASE_URL": self.url, "BACKUP_DIR": str(backup_dir or self.tmp / "backups")}
        return run_script([BACKUPS_SH, *args], env=env)

    def restore(self, backup: Path, *args: str) -> subprocess.CompletedProcess:
        return run_script([RESTORE_SH, *args, str(backup)], env={**self.env, "DATABASE_URL": self.url})

    def backups(self) -> list[Path]:
        return sorted((self.tmp / "backups").glob("eyetagger_bkp_*.gz"))

    def leftovers(self, kind: str) -> list[str]:
        """Return the restored (kind="restore") or kept (kind="old") copies beside the live database."""
        if self.engine == "postgres":
            return database_names(f"{self.name}_{kind}_")
        return sorted(str(path) for path in Path(self.name).parent.glob(f"{Path(self.name).name}.{kind}-*"))

    def url_of(self, copy: str) -> str:
        return database_url(copy) if self.engine == "postgres" else f"sqlite:///{copy}"


def _django_env(tmp: Path) -> dict[str, str]:
    dataset_root = tmp / "datasets"
    return base_env(DEBUG="true", SECRET_KEY="backup-tests-" + "x" * 50, DATA_DIR=tmp, DATASET_ROOT=dataset_root)


@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    """Per engine, a migrated database with users and a dataset, to copy for each test."""
    require_commands("pg_dump", "psql", "sqlite3", "gzip")
    tmp = tmp_path_factory.mktemp("backup-templates")
    env = _django_env(tmp)
    copy_demo_dataset(tmp / "datasets", "backups")
    sqlite_template = tmp / "template.sqlite3"
    template_name = scratch_database_name("tmpl_backups")
    made = {"sqlite": f"sqlite:///{sqlite_template}", "postgres": create_database(template_name)}
    try:
        for url in made.values():
            manage("migrate", "--no-input", "--verbosity", "0", env={**env, "DATABASE_URL": url}, timeout=300)
            result = subprocess.run(
                [PYTHON, WRITER, "populate", str(tmp / "datasets" / "backups")],
                env={**env, "DATABASE_URL": url},
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert result.returncode == 0, result.stderr
        yield {"sqlite": sqlite_template, "postgres": template_name, "datasets": tmp / "datasets"}
    finally:
        drop_databases_like(template_name)


@pytest.fixture(params=["postgres", "sqlite"])
def database(request, templates, tmp_path):
    engine = request.param
    env = _django_env(tmp_path)
    shutil.copytree(templates["datasets"], tmp_path / "datasets")
    if engine == "postgres":
        name = scratch_database_name("bkp")
        drop_databases_like(name)
        with psycopg.connect(database_url("postgres"), autocommit=True) as connection:
            connection.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(templates["postgres"])
                )
            )
        url = database_url(name)
    else:
        live = tmp_path / "live"
        live.mkdir()
        name = str(live / "db.sqlite3")
        shutil.copyfile(templates["sqlite"], name)
        url = f"sqlite:///{name}"
    yield Database(engine=engine, url=url, name=name, env=env, tmp=tmp_path)
    if engine == "postgres":
        drop_databases_like(name)


def one_line(result: subprocess.CompletedProcess) -> str:
    lines = (result.stdout + result.stderr).splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_a_backup_restores_to_identical_tables_and_annotations(database):
    database.write(60)
    before = database.state()
    assert len(before["annotations"]) > 30

    result = database.backup()
    assert result.returncode == 0, result.stderr
    assert " backups.sh ok: " in one_line(result)
    [backup] = database.backups()

    # The disaster: every annotation gone.
    manage("shell", "-c", "from backend.api.models import Annotation; Annotation.objects.all().delete()",
           env=database.django_env())  # fmt: skip
    assert database.state()["annotations"] == {}

    restored = database.restore(backup, "--yes")
    assert restored.returncode == 0, restored.stderr
    assert database.state() == before
    [old] = database.leftovers("old")  # the damaged database is kept until the operator drops it
    assert database.state(database.url_of(old))["annotations"] == {}
    assert database.leftovers("restore") == []


def test_a_backup_taken_while_annotations_are_written_is_one_consistent_snapshot(database):
    log, stop = database.tmp / "writes.jsonl", database.tmp / "stop"
    writer = Server(
        [PYTHON, WRITER, "write", "--log", str(log), "--stop-file", str(stop), "--max-saves", "5000"],
        env=database.django_env(),
        log=database.tmp / "writer.out",
    )
    try:
        deadline = time.monotonic() + 60
        while _commits(log) < 40:
            assert writer.process.poll() is None and time.monotonic() < deadline, writer.output()
            time.sleep(0.05)
        before = _commits(log)
        result = database.backup()
        after = _commits(log)
    finally:
        stop.touch()
        writer.process.wait(60)
        writer.stop()
    assert result.returncode == 0, result.stderr
    assert after > before, "no annotation was written while the backup ran"

    [backup] = database.backups()
    restored = database.restore(backup, "--no-swap")
    assert restored.returncode == 0, restored.stderr
    [copy] = database.leftovers("restore")
    snapshot = database.state(database.url_of(copy))
    live = database.state()

    # The annotations are exactly those after the first k commits, for some k during the backup.
    states = _prefix_states(log)
    matches = [k for k, state in enumerate(states) if state == snapshot["annotations"]]
    assert matches, "the restored annotations match no moment of the writer's history"
    assert before <= matches[-1] <= after + 1  # + 1: the last commit may be logged just after
    # Everything else is identical, table by table.
    for table, fingerprint in live["tables"].items():
        if table not in CHANGING_TABLES:
            assert snapshot["tables"][table] == fingerprint, table
    assert snapshot["tables"]["api_annotation"][0] == len(snapshot["annotations"])


def _commits(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def _prefix_states(log: Path) -> list[dict]:
    """Return the annotations' state after 0, 1, 2, ... of the writer's commits."""
    state: dict[str, list] = {}
    states = [dict(state)]
    for line in log.read_text().splitlines():
        commit = json.loads(line)
        state[str(commit["id"])] = commit["state"]
        states.append(dict(state))
    return states


@pytest.mark.parametrize("damage", ["truncated", "flipped byte", "incomplete dump"])
def test_a_corrupt_backup_is_refused_and_the_live_database_is_untouched(database, damage):
    database.write(20)
    assert database.backup().returncode == 0
    [backup] = database.backups()
    before = database.state()
    corrupt = database.tmp / f"corrupt{''.join(backup.suffixes[-2:])}"
    data = backup.read_bytes()
    if damage == "truncated":
        corrupt.write_bytes(data[: len(data) // 2])
    elif damage == "flipped byte":
        middle = len(data) // 2
        corrupt.write_bytes(data[:middle] + bytes([data[middle] ^ 0x55]) + data[middle + 1 :])
    else:  # a whole gzip stream of half a dump: only the content check can tell
        plain = subprocess.run(["gzip", "-dc", str(backup)], capture_output=True, check=True).stdout
        corrupt.write_bytes(subprocess.run(["gzip", "-c"], input=plain[: len(plain) // 2], capture_output=True).stdout)

    result = database.restore(corrupt, "--yes")
    assert result.returncode != 0
    assert "refused" in result.stderr
    assert database.state() == before
    assert database.leftovers("restore") == database.leftovers("old") == []


def test_a_failed_backup_exits_non_zero_with_one_line_and_leaves_no_file(database, tmp_path):
    if database.engine == "postgres":
        database.url = database_url(scratch_database_name("bkp_missing"))
    else:
        not_a_database = tmp_path / "not-a-database.sqlite3"
        not_a_database.write_text("hello")
        database.url = f"sqlite:///{not_a_database}"
    result = database.backup()
    assert result.returncode != 0
    assert " backups.sh FAILED: " in one_line(result)
    assert list((database.tmp / "backups").iterdir()) == []


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)  # the same code for both; SQLite is faster
def test_backups_keep_only_the_newest_n(database):
    names = []
    for _ in range(4):
        result = database.backup("--keep", "2")
        assert result.returncode == 0, result.stderr
        names.append(Path(one_line(result).split(" -> ")[1].split(" (")[0]).name)
    assert len(set(names)) == 4
    assert [path.name for path in database.backups()] == sorted(names)[-2:]


@pytest.mark.parametrize("database", ["postgres"], indirect=True)  # only Postgres has sessions to count
def test_restore_will_not_swap_while_sessions_are_connected_unless_told_to_end_them(database):
    assert database.backup().returncode == 0
    [backup] = database.backups()
    with psycopg.connect(database.url, autocommit=True) as session:
        session.execute("SELECT 1")
        refused = database.restore(backup, "--yes")
        assert refused.returncode != 0
        assert "1 sessions are connected" in refused.stderr
        [copy] = database.leftovers("restore")  # kept, as the message says
        assert database.leftovers("old") == []

        done = database.restore(backup, "--yes", "--terminate-connections")
        assert done.returncode == 0, done.stderr
        assert len(database.leftovers("old")) == 1
        with pytest.raises(psycopg.OperationalError):
            session.execute("SELECT 1")
    assert copy in database.leftovers("restore")


@pytest.mark.parametrize("database", ["postgres"], indirect=True)  # the compose service db is Postgres
def test_the_compose_mode_dumps_and_restores_inside_the_db_service(database, tmp_path):
    # A stand-in for `docker`: runs `compose exec -T db sh -c ...` here, with the db service's
    # environment (POSTGRES_USER, POSTGRES_DB) pointing at this database, and logs the rest.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "docker-calls"
    fake = bin_dir / "docker"
    server = psycopg.conninfo.conninfo_to_dict(database.url)
    user, host, port = server.get("user", "postgres"), server.get("host", "127.0.0.1"), server.get("port", "5432")
    fake.write_text(
        f"""#!/usr/bin/env bash
set -euo pipefail
echo "$*" >> {calls}
[[ $1 == compose ]] || exit 64
shift
case $1 in
    exec) [[ $2 == -T && $3 == db && $4 == sh && $5 == -c ]] || exit 64
          shift 5
          POSTGRES_USER={user} POSTGRES_DB={database.name} PGHOST={host} PGPORT={port} exec sh -c "$@" ;;
    stop|start) exit 0 ;;
    *) exit 64 ;;
esac
"""
    )
    fake.chmod(0o755)
    env = {**database.env, "PATH": f"{bin_dir}:{database.env['PATH']}", "BACKUP_DIR": str(database.tmp / "backups")}
    database.write(20)
    before = database.state()
    backed_up = run_script([BACKUPS_SH, "--compose"], env=env)
    assert backed_up.returncode == 0, backed_up.stderr
    assert "postgres (compose service db)" in one_line(backed_up)
    [backup] = database.backups()
    manage("shell", "-c", "from backend.api.models import Annotation; Annotation.objects.all().delete()",
           env=database.django_env())  # fmt: skip

    restored = run_script([RESTORE_SH, "--compose", "--yes", str(backup)], env=env)
    assert restored.returncode == 0, restored.stderr
    assert database.state() == before
    log = calls.read_text()
    assert "compose stop web backup" in log and "compose start web backup" in log


def test_backups_sh_explains_itself(tmp_path):
    helped = run_script([BACKUPS_SH, "--help"], env=base_env())
    assert helped.returncode == 0
    assert "Usage: backups.sh" in helped.stdout and "--dvc" in helped.stdout
    wrong = run_script([BACKUPS_SH, "--keep", "0", "--dir", str(tmp_path)], env=base_env())
    assert wrong.returncode != 0
    assert "--keep must be a whole number" in one_line(wrong)


def test_restore_sh_explains_itself():
    helped = run_script([RESTORE_SH, "--help"], env=base_env())
    assert helped.returncode == 0
    assert "Usage: deploy/restore.sh" in helped.stdout


def test_the_backup_service_healthcheck_turns_red_when_backups_stop(tmp_path):
    env = base_env(BACKUP_DIR=tmp_path, BACKUP_INTERVAL="3600")
    check = [str(REPO / "deploy" / "backup-loop.sh"), "--check"]
    assert run_script(check, env=env).returncode == 1  # none yet
    backup = tmp_path / "eyetagger_bkp_2026-01-01T000000Z.sql.gz"
    backup.write_bytes(b"")
    assert run_script(check, env=env).returncode == 0
    stale = time.time() - 3 * 3600
    os.utime(backup, (stale, stale))
    assert run_script(check, env=env).returncode == 1
