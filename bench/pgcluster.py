"""A private PostgreSQL cluster on 127.0.0.1 that a fault test may restart at will.

The machine's shared server (port 5432) is used by other tests at the same time, so a test that
restarts Postgres starts its own: ``initdb`` into a temporary folder, ``pg_ctl start`` on a free
port, listening on 127.0.0.1 only (no Unix socket), trust authentication for the ``postgres``
role. PostgreSQL refuses to run as root, so when we are root it runs as the ``postgres`` OS user
(``runuser``). Everything is stopped and deleted when the context exits, also on failure.

    with private_cluster() as cluster:
        cluster.url                       # postgres://postgres@127.0.0.1:PORT/postgres
        cluster.restart(mode="immediate")  # a crash and recovery, as after a power cut
        cluster.stop(); cluster.start()    # Postgres away for as long as you wait between them
"""

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.helpers import log  # noqa: E402  (the repository root is put on the path first)
from deploy.tests.support import LOCALHOST, free_port  # noqa: E402

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
OS_USER = "postgres"  # who runs the cluster when we are root


@dataclass
class Cluster:
    """A running private cluster: its data folder, port and URL."""

    data: Path
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"postgres://postgres@{LOCALHOST}:{self.port}/postgres"

    def pg_ctl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        """Run pg_ctl on this cluster (as the postgres OS user when we are root); fail with its output."""
        command = [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), *args]
        result = subprocess.run(_as_owner(command), capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"pg_ctl {' '.join(args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
        return result

    def restart(self, *, mode: str = "fast") -> float:
        """Restart the server (``fast``: clean shutdown; ``immediate``: crash and recover); return seconds taken.

        Returns once the server accepts connections again.
        """
        started = time.monotonic()
        self.pg_ctl("restart", "-w", "-t", "60", "-m", mode, "-o", self._options())
        return time.monotonic() - started

    def stop(self, *, mode: str = "fast") -> None:
        """Stop the server (``fast``, ``immediate``); ``start()`` brings it back on the same port."""
        self.pg_ctl("stop", "-w", "-t", "60", "-m", mode)

    def start(self) -> None:
        """Start the server and return once it accepts connections."""
        self.pg_ctl("start", "-w", "-t", "60", "-o", self._options())

    def _options(self) -> str:
        # Only 127.0.0.1, no Unix socket (none of the machine's socket folders is touched).
        return f"-c listen_addresses={LOCALHOST} -c port={self.port} -c unix_socket_directories=''"


def _as_owner(command: list[str]) -> list[str]:
    return ["runuser", "-u", OS_USER, "--", *command] if os.geteuid() == 0 else command


@contextmanager
def private_cluster(*, settings: dict[str, str] | None = None, log=log) -> Iterator[Cluster]:
    """Create and start a private cluster, yield it, then stop it and delete its folder.

    ``settings`` are written to postgresql.conf (e.g. ``{"max_connections": "200"}``).
    """
    initdb = PG_BIN / "initdb"
    if not initdb.exists():
        raise RuntimeError(f"{initdb} is missing: install postgresql-15 (or set PG_BIN to its bin folder)")
    folder = Path(tempfile.mkdtemp(prefix="eyetagger-pg-"))
    cluster = Cluster(data=folder / "data", port=free_port(), log=folder / "postgres.log")
    if os.geteuid() == 0:
        owner = pwd.getpwnam(OS_USER)
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    started = False
    try:
        log(f"Creating a private PostgreSQL cluster in {cluster.data}")
        subprocess.run(
            _as_owner([str(initdb), "-D", str(cluster.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]),
            check=True,
            capture_output=True,
            timeout=120,
        )
        with (cluster.data / "postgresql.conf").open("a") as conf:
            for name, value in (settings or {}).items():
                conf.write(f"{name} = '{value}'\n")
        log(f"Starting it on {LOCALHOST}:{cluster.port}")
        cluster.start()
        started = True
        yield cluster
    finally:
        if started:
            log("Stopping the private cluster")
            try:
                cluster.pg_ctl("stop", "-w", "-t", "30", "-m", "immediate")
            except (RuntimeError, subprocess.TimeoutExpired) as error:
                # Already stopped (a failed restart) is fine; anything else is worth a line.
                log(f"pg_ctl stop: {error}")
        shutil.rmtree(folder, ignore_errors=True)
