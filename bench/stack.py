"""Run EyeTagger as in production on 127.0.0.1 for the load and fault scripts in bench/.

Gunicorn with deploy/gunicorn.conf.py (gthread workers, DEBUG off; plus one log line when a
worker has loaded the app, so the stack is handed over only once every worker serves) on a
scratch PostgreSQL database, a dataset of generated images imported by the real importer, and annotator accounts
with API tokens. Everything is started by ``running_stack()`` and stopped when it exits, the
scratch database dropped with it. ``running_gunicorn()`` starts the same Gunicorn alone, on a
database a benchmark has built itself.

    with running_stack(images=200, annotators=32) as stack:
        requests.get(f"{stack.url}/api/health/")
        headers = {"Authorization": f"Token {stack.tokens[0]}"}
"""

import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import psycopg
from PIL import Image as PILImage
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.helpers import log  # noqa: E402  (the repository root is put on the path first)
from deploy.tests.support import (  # noqa: E402
    LOCALHOST,
    VENV_BIN,
    Server,
    free_port,
    manage,
    production_env,
    wait_for_port,
)

DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"


@dataclass
class Gunicorn:
    """A running Gunicorn: its address, its process and the environment it runs with."""

    url: str  # http://127.0.0.1:PORT
    server: Server
    env: dict[str, str]

    def worker_pids(self) -> list[int]:
        """Return the process ids of Gunicorn's workers (the children of its master)."""
        pid = self.server.process.pid
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]

    def ready_pids(self) -> set[int]:
        """Return the process ids of the workers that have loaded the app (they said so in the log), recycled ones
        included."""
        return {int(pid) for pid in re.findall(_READY_PATTERN, self.server.output())}

    def wait_ready(self, timeout: float = 120.0) -> float:
        """Wait until every worker has loaded the app; return the seconds waited.

        Gunicorn listens before its workers have imported Django: on a busy machine the first
        requests would otherwise wait for the workers' start-up and be timed with it.
        """
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.server.process.poll() is not None:
                raise RuntimeError(f"Gunicorn exited ({self.server.process.returncode}):\n{self.server.output()}")
            pids = self.worker_pids()
            if pids and set(pids) <= self.ready_pids():
                return time.monotonic() - started
            time.sleep(0.05)
        raise TimeoutError(f"Gunicorn's workers did not all load the app within {timeout:g} s")

    def cpu_seconds(self) -> float:
        """Return the CPU seconds used so far by the master and its workers, recycled ones included."""
        return cpu_seconds(self.server.process.pid)


@dataclass
class Stack:
    """A running deployment: its address, database, dataset and annotators' tokens."""

    url: str  # http://127.0.0.1:PORT, Gunicorn itself
    database_url: str
    dataset_id: int
    tokens: list[str]  # one API token per annotator, in the order of their usernames
    gunicorn: Gunicorn
    env: dict[str, str]
    tmp: Path
    usernames: list[str] = field(default_factory=list)


def cpu_seconds(pid: int) -> float:
    """Return the CPU seconds of a process, of its children it has reaped, and of its live descendants."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = [
            int(child)
            for task in Path(f"/proc/{pid}/task").iterdir()
            for child in (task / "children").read_text().split()
        ]
    except (FileNotFoundError, ProcessLookupError):  # it exited meanwhile
        return 0.0
    own = sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # utime stime cutime cstime
    return own + sum(cpu_seconds(child) for child in children)


# deploy/gunicorn.conf.py unchanged, plus a hook that logs when a worker has loaded the app.
_GUNICORN_CONF = """
exec(compile(open({path!r}).read(), {path!r}, "exec"))


def post_worker_init(worker):
    worker.log.info("Worker ready (pid: %s)", worker.pid)
"""
_READY_PATTERN = r"Worker ready \(pid: (\d+)\)"


def write_images(folder: Path, count: int, side: int, seed: int = 7) -> Path:
    """Write count distinct greyscale PNGs of side x side with a metadata.csv; return the folder."""
    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:side, 0:side]
    radius = np.hypot(xx - side / 2, yy - side / 2)
    base = np.clip(200 - radius * 0.6, 20, 230)  # a dark pupil-like centre fading out
    rows = ["filename,ground_truth,sensor"]
    for index in range(count):
        pixels = (base + rng.normal(0, 6, size=base.shape)).clip(0, 255).astype(np.uint8)
        name = f"img_{index:06d}.png"
        PILImage.fromarray(pixels).save(images / name, compress_level=1)
        rows.append(f"{name},{'real' if index % 2 else 'fake'},bench")
    (folder / "metadata.csv").write_text("\n".join(rows) + "\n")
    return folder


# One Django start-up for the three steps (each manage.py would import Django again: seconds on a
# busy machine): migrate, the real importer (the import_dataset command), then the annotators.
_SEED = """
import json
from django.core.management import call_command
from django.contrib.auth.models import User
from backend.api import services
from backend.api.models import Dataset
call_command("migrate", "--no-input", verbosity=0)
call_command("import_dataset", {folder!r}, "--name", "Load", *{import_args!r})
# The bulk path with generated passwords (few PBKDF2 rounds): a hundred accounts in a second, not a minute.
services.users_create_from_csv(csv_text="".join(f"load-{{index:04d}},,\\n" for index in range({count})))
users = User.objects.filter(username__startswith="load-").order_by("username")
tokens = [services.api_token_create(user=user).key for user in users]
print(json.dumps({{"dataset": Dataset.objects.get().pk, "tokens": tokens}}))
"""


def gunicorn_env(tmp: Path, *, database_url: str, env: dict[str, str] | None = None) -> dict[str, str]:
    """Return the production environment (DEBUG off) for Gunicorn on a free port of 127.0.0.1, plain HTTP.

    No TLS and no proxy in front: the redirect to HTTPS, secure cookies and the trusted proxy
    header are off. ``env`` adds or overrides settings, e.g. WEB_CONCURRENCY or GUNICORN_THREADS.
    """
    settings = production_env(
        tmp,
        DATABASE_URL=database_url,
        DATASET_ROOT=tmp / "datasets",
        SECURE_SSL_REDIRECT="false",
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
        GUNICORN_BIND=f"{LOCALHOST}:{free_port()}",
    )
    settings.pop("SECURE_PROXY_SSL_HEADER")
    settings.pop("NUM_PROXIES")
    settings.update(env or {})
    return settings


@contextmanager
def running_gunicorn(settings: dict[str, str], tmp: Path, *, log=log) -> Iterator[Gunicorn]:
    """Start Gunicorn with deploy/gunicorn.conf.py, yield it once every worker serves, then stop it.

    ``settings`` is its environment (see gunicorn_env: the database and the port are there);
    its log goes to tmp/gunicorn.log.
    """
    port = int(settings["GUNICORN_BIND"].rsplit(":", 1)[1])
    log(f"Starting Gunicorn on {LOCALHOST}:{port}")
    conf = tmp / "gunicorn.conf.py"
    conf.write_text(_GUNICORN_CONF.format(path=str(ROOT / "deploy" / "gunicorn.conf.py")))
    command = [str(VENV_BIN / "gunicorn"), "-c", str(conf), "backend.wsgi"]
    server = Server(command, env=settings, log=tmp / "gunicorn.log")
    try:
        wait_for_port(port, server.process, timeout=120)
        gunicorn = Gunicorn(url=f"http://{LOCALHOST}:{port}", server=server, env=settings)
        waited = gunicorn.wait_ready()
        log(f"Gunicorn's {len(gunicorn.worker_pids())} workers ready after {waited:.1f} s")
        yield gunicorn
    finally:
        server.stop()


@contextmanager
def running_stack(
    *,
    images: int = 100,
    annotators: int = 8,
    side: int = 512,
    server_url: str = DEFAULT_SERVER,
    database_name: str = "eyetagger_bench_stack",
    import_args: tuple[str, ...] = ("--choices", "real,fake", "--require", "choice,mask"),
    env: dict[str, str] | None = None,
    log=log,
) -> Iterator[Stack]:
    """Start the deployment, yield it, then stop Gunicorn and drop the scratch database.

    ``server_url`` names the PostgreSQL server (any database on it: the scratch database is
    created beside it, e.g. on a private cluster a fault test restarts); ``env`` adds or overrides
    settings, e.g. WEB_CONCURRENCY, GUNICORN_THREADS or DJANGO_SETTINGS_MODULE.
    """
    with tempfile.TemporaryDirectory(prefix="eyetagger-stack-") as tmp_name:
        tmp = Path(tmp_name)
        log(f"Creating database {database_name}")
        url = _create_database(server_url, database_name)
        try:
            settings = gunicorn_env(tmp, database_url=url, env=env)
            log(f"Writing {images} images of {side}x{side}")
            folder = write_images(tmp / "datasets" / "bench", images, side)
            log(f"Migrating, importing the images, creating {annotators} annotators")
            code = _SEED.format(folder=str(folder), import_args=tuple(import_args), count=annotators)
            created = manage("shell", "-c", code, env=settings, timeout=1800)
            seeded = json.loads(created.stdout.strip().splitlines()[-1])  # the shell may print lines before
            with running_gunicorn(settings, tmp, log=log) as gunicorn:
                yield Stack(
                    url=gunicorn.url,
                    database_url=url,
                    dataset_id=seeded["dataset"],
                    tokens=seeded["tokens"],
                    gunicorn=gunicorn,
                    env=settings,
                    tmp=tmp,
                    usernames=[f"load-{index:04d}" for index in range(annotators)],
                )
        finally:
            log(f"Dropping database {database_name}")
            _drop_database(server_url, database_name)


def _create_database(server_url: str, name: str) -> str:
    """Create an empty database name on the server of server_url (dropping a leftover); return its URL."""
    _drop_database(server_url, name)
    with psycopg.connect(server_url, autocommit=True, connect_timeout=10) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))


def _drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(server_url, autocommit=True, connect_timeout=10) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextmanager
def in_scratch_database(server_url: str, name: str, prefix: str) -> Iterator[tuple[str, Path]]:
    """Yield (the URL of a new empty database, a temporary folder); drop both after, Django's connections closed."""
    log(f"Creating database {name}")
    url = _create_database(server_url, name)
    try:
        with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
            yield url, Path(tmp)
    finally:
        log(f"Dropping database {name}")
        from django.db import connections  # only once a script has set Django up

        connections.close_all()
        _drop_database(server_url, name)
