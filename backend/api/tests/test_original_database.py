"""Importing from a live original database (--database-url), and from what the real pg_dump writes of it.

A scratch database is made from a fixture dump with psql (as the original's README restores a
backup), read read-only by the importer, dumped again by the real pg_dump, and dropped after.
Needs a PostgreSQL server, psql and pg_dump: the one the suite runs on, or TEST_POSTGRES_URL.
"""

import gzip
import io
import os
import re
import shutil
import subprocess
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection
from psycopg import sql

from backend.api import services
from backend.api.models import Annotation
from backend.api.original import rows
from backend.api.original.database import OriginalDatabase, describe_url
from backend.api.original.dump import PgDump

from . import original_fixtures as fx
from .test_original_import import DEFAULT_HASHERS, run


def _server_url() -> str | None:
    """Return a URL of the PostgreSQL server's maintenance database, or None when there is none to use."""
    if connection.vendor == "postgresql":
        settings = connection.settings_dict
        host, port, user = settings["HOST"] or "127.0.0.1", settings["PORT"] or 5432, settings["USER"] or "postgres"
        password = f":{settings['PASSWORD']}" if settings["PASSWORD"] else ""
        url = f"postgres://{user}{password}@{host}:{port}/postgres"
    else:
        url = urlunsplit(
            urlsplit(os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/x"))._replace(
                path="/postgres"
            )
        )
    try:
        psycopg.connect(url, connect_timeout=3).close()
    except psycopg.Error:
        return None
    return url


@pytest.fixture
def original_database(tmp_path, settings, db):
    """Yield (URL of a scratch database loaded from the corner-case dump with psql, dataset folder)."""
    server = _server_url()
    if server is None or not shutil.which("psql") or not shutil.which("pg_dump"):
        pytest.skip("needs a PostgreSQL server with psql and pg_dump (set TEST_POSTGRES_URL)")
    root = tmp_path / "datasets"
    settings.DATASET_ROOT = root
    settings.PASSWORD_HASHERS = DEFAULT_HASHERS
    dataset_dir, dump = fx.write_deployment(fx.corner_cases(), root / "original", compress=False)
    name = f"eyetagger_original_{os.getpid()}"
    url = urlunsplit(urlsplit(server)._replace(path=f"/{name}"))
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        # The backup names its owner, a role this server need not have: restore as --no-owner would.
        script = re.sub(r"(?m)^ALTER .* OWNER TO .*;\n", "", dump.read_text())
        subprocess.run(
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url],
            input=script,
            text=True,
            check=True,
            capture_output=True,
        )
        yield url, dataset_dir, dump
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _imported() -> dict:
    return {
        a.original.original_id: (a.annotator.username, a.image.path, a.label, a.text, a.mask_rle, a.strokes)
        for a in Annotation.objects.select_related("original", "annotator", "image")
    }


def test_the_live_database_imports_as_its_dump_does_and_is_only_read(original_database):
    url, dataset_dir, dump = original_database
    out = io.StringIO()
    call_command(
        "import_original", "--database-url", url, "--dataset-dir", str(dataset_dir), stdout=out, stderr=io.StringIO()
    )
    assert "Annotations: 9 imported" in out.getvalue()
    assert f"from the {describe_url(url)}." in out.getvalue() and "@" not in describe_url(url)
    from_database = _imported()
    with OriginalDatabase(url) as source, source.connection.cursor() as cursor:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            cursor.execute("DELETE FROM api_annotation")
    with psycopg.connect(url) as check:
        assert check.execute("SELECT count(*) FROM api_annotation").fetchone()[0] == 11
    # The dump the database was restored from gives the same annotations.
    Annotation.objects.all().delete()
    assert run(dump, dataset_dir).annotations_created == 9
    assert _imported() == from_database


@pytest.mark.parametrize("options", [[], ["--inserts"], ["--column-inserts", "--rows-per-insert=4"]])
def test_what_the_real_pg_dump_writes_imports_as_the_database_does(original_database, tmp_path, options):
    url, dataset_dir, _ = original_database
    with OriginalDatabase(url) as source:
        report = services.original_import(source=source, dataset_dir=dataset_dir)
    from_database = _imported()
    assert report.annotations_created == 9
    Annotation.objects.all().delete()
    path = tmp_path / "real.sql.gz"
    dumped = subprocess.run(["pg_dump", "-d", url, *options], check=True, capture_output=True)
    path.write_bytes(gzip.compress(dumped.stdout))
    again = run(path, dataset_dir)
    assert again.annotations_created == 9 and _imported() == from_database
    version = subprocess.run(["pg_dump", "--version"], capture_output=True, text=True).stdout.split()[2]
    assert PgDump(path, keep=rows.SMALL_TABLES).scan().versions["by pg_dump"].startswith(version)


def test_a_database_that_cannot_be_reached_is_a_clear_error():
    with pytest.raises(rows.OriginalInvalid, match="cannot connect to the database 127.0.0.1:1/eyetagger"):
        OriginalDatabase("postgres://someone:secret@127.0.0.1:1/eyetagger")
    with pytest.raises(rows.OriginalInvalid, match="must be a postgres:// URL"):
        OriginalDatabase("mysql://x/y")
