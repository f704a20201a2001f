"""Helpers for the deployment tests: scratch databases, servers on free ports, running Django.

Everything runs on 127.0.0.1, every server is stopped by the test that started it, and every
database a test creates is named after TEST_POSTGRES_URL's database and dropped afterwards.
"""

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
VENV_BIN = Path(PYTHON).parent
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/eyetagger")
LOCALHOST = "127.0.0.1"


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on now."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind((LOCALHOST, 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen | None = None, timeout: float = 30.0) -> None:
    """Wait until something accepts connections on port, or fail (early, if process has died)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with status {process.returncode} before listening on {port}")
        try:
            with socket.create_connection((LOCALHOST, port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {LOCALHOST}:{port} after {timeout} s")


class Server:
    """A background process whose output goes to a log file; stop() ends it and its children."""

    def __init__(self, args, *, log: Path, env=None, cwd=REPO):
        self.log = log
        self._log_file = open(log, "ab")  # noqa: SIM115  (closed in stop())
        self.process = subprocess.Popen(
            args, stdout=self._log_file, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True
        )

    def stop(self, timeout: float = 15.0) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout)
        self._log_file.close()

    def output(self) -> str:
        self._log_file.flush()
        return self.log.read_text(errors="replace")


def database_url(name: str) -> str:
    """Return TEST_POSTGRES_URL with its database replaced by name."""
    parts = urlsplit(POSTGRES_URL)
    return urlunsplit(parts._replace(path=f"/{name}"))


def scratch_database_name(suffix: str) -> str:
    return f"{urlsplit(POSTGRES_URL).path.lstrip('/')}_{suffix}"


def _admin_connection():
    return psycopg.connect(database_url("postgres"), autocommit=True, connect_timeout=10)


def drop_database(name: str) -> None:
    with _admin_connection() as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def drop_databases_like(prefix: str) -> None:
    """Drop every database whose name starts with prefix (restores leave renamed copies)."""
    with _admin_connection() as connection:
        names = [
            row[0]
            for row in connection.execute("SELECT datname FROM pg_database WHERE starts_with(datname, %s)", [prefix])
        ]
        for name in names:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def create_database(name: str) -> str:
    """Create an empty database (dropping any leftover of that name) and return its URL."""
    drop_database(name)
    with _admin_connection() as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return database_url(name)


def database_names(prefix: str) -> list[str]:
    with _admin_connection() as connection:
        return sorted(
            row[0]
            for row in connection.execute("SELECT datname FROM pg_database WHERE starts_with(datname, %s)", [prefix])
        )


def base_env(**overrides) -> dict[str, str]:
    """Return an environment for running EyeTagger: only what the test names, nothing from the caller.

    PATH keeps the virtualenv first, so scripts find its dvc and gunicorn.
    """
    env = {
        # The virtualenv first (dvc, gunicorn), and the sbin folders, where Debian puts nginx.
        "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}:/usr/sbin:/sbin",
        "LANG": "C.UTF-8",
        "HOME": os.environ.get("HOME", "/tmp"),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",  # logs reach their files at once
        "DJANGO_SETTINGS_MODULE": "backend.settings",
    }
    env.update({key: str(value) for key, value in overrides.items()})
    return env


def production_env(tmp: Path, **overrides) -> dict[str, str]:
    """Return the environment of a production deployment (DEBUG off), with its state under tmp."""
    data_dir = tmp / "data-dir"
    data_dir.mkdir(exist_ok=True)
    settings = {
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(60),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATA_DIR": data_dir,
        "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https",
        "NUM_PROXIES": "1",
    }
    return base_env(**{**settings, **overrides})


def manage(*args: str, env: dict[str, str], timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    """Run manage.py with env; on failure, show its output."""
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )
    if check and result.returncode != 0:
        command = " ".join(args)
        raise AssertionError(f"manage.py {command} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def run_script(args, *, env: dict[str, str], timeout: float = 120, cwd=REPO, input=None) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, input=input)


def copy_demo_dataset(dataset_root: Path, name: str = "demo") -> Path:
    """Copy data/demo below dataset_root and return the copy's folder."""
    folder = dataset_root / name
    shutil.copytree(REPO / "data" / "demo", folder)
    return folder


def require_commands(*names: str) -> None:
    """Fail, naming them, if commands the test needs are not installed (`make test` installs them first)."""
    path = base_env()["PATH"]
    missing = [name for name in names if shutil.which(name, path=path) is None]
    if missing:
        pytest.fail(
            f"missing commands {', '.join(missing)}: install them with `make tools` (as root; `make test` does)"
        )


# The Nginx template, filled in as the nginx image does.
TEMPLATE = REPO / "deploy" / "nginx" / "eyetagger.conf"
TEMPLATE_NAMES = {
    "EYETAGGER_UPSTREAM",
    "NGINX_HTTP_PORT",
    "NGINX_HTTPS_PORT",
    "NGINX_TLS_CERTIFICATE",
    "NGINX_TLS_CERTIFICATE_KEY",
    "NGINX_STATIC_ROOT",
    "NGINX_DATASET_ROOT",
    "NGINX_UPLOAD_ROOT",
    "NGINX_RESOLVER",
}


def template_names(text: str) -> set[str]:
    """Return the ${NAME}s used outside comments."""
    code = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    return set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", code))


def render_nginx_conf(values: dict[str, str]) -> str:
    """Fill in the template as the nginx image's envsubst does: only the named variables."""
    text = TEMPLATE.read_text()
    assert template_names(text) == TEMPLATE_NAMES
    for name, value in values.items():
        text = text.replace("${" + name + "}", value)
    assert not template_names(text)
    return text
