"""Run EyeTagger's docker compose stack for the container tests, as an operator would.

Each stack lives in a clean copy of the checkout (the files git tracks or would track, as a
fresh clone has them; `git archive` of a commit for the upgrade's previous version) with its
env files written by `make env`, so the operator's commands run there as the manual writes
them: the copy's `.env` names the compose project, the compose files and the published ports,
and an extra compose file (compose.test.yaml) only tags the built images for the tests and
runs the healthchecks every 2 s instead of every 15 s, the same checks.

`python -m deploy.containers.stack prepare` does the slow part once (the engine, the base
images, `docker compose build`); `make test` starts it in the background early, and the tests
wait for it, then reuse its images. Times go to STATE/times.json for the tests' summary.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests
import yaml

from deploy.spa_client import spa_sign_in, spa_write_headers

REPO = Path(__file__).resolve().parents[2]
ENGINE = REPO / "deploy" / "containers" / "engine.sh"
STATE = Path(os.environ.get("EYETAGGER_CONTAINERS_DIR", "/var/tmp/eyetagger-containers"))
HTTP_PORT = int(os.environ.get("EYETAGGER_TEST_HTTP_PORT", "8380"))
HTTPS_PORT = int(os.environ.get("EYETAGGER_TEST_HTTPS_PORT", "8343"))
DEV_WEB_PORT = int(os.environ.get("EYETAGGER_TEST_DEV_PORT", "8381"))
DEV_VITE_PORT = int(os.environ.get("EYETAGGER_TEST_VITE_PORT", "8373"))
PROJECT = "eyetagger-test"
SKIPPED = 3  # engine.sh's exit status when no engine can be had

TEST_OVERRIDE = """\
# Written by deploy/containers/stack.py: the tests' own image names, and the same healthchecks
# every 2 s (a test waits for healthy; an operator's stack checks every 15 s).
services:
  db:
    healthcheck: {{interval: 2s}}
  web:
    image: eyetagger-test-web:{tag}
    healthcheck: {{interval: 2s}}
  nginx:
    image: eyetagger-test-nginx:{tag}
    healthcheck: {{interval: 2s}}
  backup:
    healthcheck: {{interval: 2s, start_period: 0s}}
"""


class NoEngine(Exception):
    """No container engine can be had here; the message says why."""


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} containers: {message}", file=sys.stderr, flush=True)


def _times() -> dict[str, float]:
    path = STATE / "times.json"
    return json.loads(path.read_text()) if path.exists() else {}


@contextmanager
def step(name: str):
    """Time a step and record it in STATE/times.json (kept across processes for the summary)."""
    started = time.monotonic()
    log(f"{name} ...")
    yield
    seconds = round(time.monotonic() - started, 1)
    STATE.mkdir(parents=True, exist_ok=True)
    times = _times()
    times[name] = seconds
    (STATE / "times.json").write_text(json.dumps(times, indent=1))
    log(f"{name}: {seconds} s")


def recorded_times() -> dict[str, float]:
    return _times()


def run(args, *, cwd=None, env=None, timeout=900, check=True, input=None) -> subprocess.CompletedProcess:
    """Run a command; on failure raise with its output."""
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, input=input)
    if check and result.returncode != 0:
        command = " ".join(map(str, args))
        raise AssertionError(f"{command} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def engine() -> None:
    """Make sure a Docker engine with compose v2 answers (installing one as root on Debian), or raise NoEngine."""
    result = subprocess.run([str(ENGINE), "setup"], capture_output=True, text=True, timeout=900)
    sys.stderr.write(result.stdout + result.stderr)
    if result.returncode == SKIPPED:
        raise NoEngine(result.stderr.strip().rsplit("\n", 1)[-1])
    if result.returncode != 0:
        raise AssertionError(f"engine.sh setup failed ({result.returncode})")


def base_images(checkout: Path) -> list[str]:
    """Return the images the checkout's Dockerfile (ARG ..._IMAGE defaults) and compose files name."""
    images = []
    for line in (checkout / "Dockerfile").read_text().splitlines():
        if line.startswith("ARG ") and "_IMAGE=" in line:
            images.append(line.split("=", 1)[1].strip())
    for name in ("docker-compose.yaml", "docker-compose.dev.yaml"):
        services = yaml.safe_load((checkout / name).read_text())["services"]
        images += [service["image"] for service in services.values() if "image" in service and "build" not in service]
    return sorted(set(images))


def ensure_images(images: list[str]) -> None:
    run([str(ENGINE), "images", *images], timeout=1800)


def copy_checkout(dest: Path, commit: str | None = None) -> Path:
    """Copy the working tree's tracked and untracked-but-not-ignored files (or a commit's) into dest."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    if commit:
        # git archive's default umask (002) makes files group-writable; BuildKit hashes file modes,
        # so the same Pipfile.lock would miss the cache and the packages be installed again.
        archive = subprocess.run(
            ["git", "-c", "tar.umask=0022", "archive", commit], cwd=REPO, capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    else:
        names = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO).stdout
        files = [name for name in names.split("\0") if name and (REPO / name).exists()]
        tar = subprocess.run(
            ["tar", "-c", "-C", str(REPO), "--null", "-T", "-"], input="\0".join(files).encode(), capture_output=True
        )
        subprocess.run(["tar", "-x", "-C", str(dest)], input=tar.stdout, check=True)
    return dest


@dataclass
class Stack:
    """One compose deployment in its own folder; compose finds project, files and ports in its .env."""

    dir: Path
    project: str
    tag: str
    http_port: int = HTTP_PORT
    https_port: int = HTTPS_PORT

    @classmethod
    def create(cls, dir: Path, *, project: str = PROJECT, tag: str = "current", commit: str | None = None, **ports):
        copy_checkout(dir, commit)
        stack = cls(dir=dir, project=project, tag=tag, **ports)
        run(["deploy/make-env.sh", "--host", "localhost"], cwd=dir)
        (dir / "compose.test.yaml").write_text(TEST_OVERRIDE.format(tag=tag))
        stack.write_dotenv()
        return stack

    def write_dotenv(self, files: str = "docker-compose.yaml:compose.test.yaml") -> None:
        (self.dir / ".env").write_text(
            f"COMPOSE_PROJECT_NAME={self.project}\nCOMPOSE_FILE={files}\n"
            f"EYETAGGER_HTTP_PORT={self.http_port}\nEYETAGGER_HTTPS_PORT={self.https_port}\n"
            f"EYETAGGER_DEV_WEB_PORT={DEV_WEB_PORT}\nEYETAGGER_DEV_VITE_PORT={DEV_VITE_PORT}\n"
        )

    # -- compose
    def sh(self, command: str, *, timeout=600, check=True, input=None) -> subprocess.CompletedProcess:
        """Run an operator's shell command in the deployment's folder, as written in the manual."""
        env = {key: value for key, value in os.environ.items() if not key.startswith("COMPOSE_")}
        return run(["bash", "-c", f"set -o pipefail; {command}"], cwd=self.dir, env=env, timeout=timeout,
                   check=check, input=input)  # fmt: skip

    def compose(self, *args: str, timeout=600, check=True, input=None) -> subprocess.CompletedProcess:
        env = {key: value for key, value in os.environ.items() if not key.startswith("COMPOSE_")}
        return run(["docker", "compose", *args], cwd=self.dir, env=env, timeout=timeout, check=check, input=input)

    def exec(self, service: str, *command: str, check=True, input=None, timeout=300) -> subprocess.CompletedProcess:
        return self.compose("exec", "-T", service, *command, check=check, input=input, timeout=timeout)

    def manage(self, *args: str, check=True, input=None) -> subprocess.CompletedProcess:
        return self.exec("web", "python", "manage.py", *args, check=check, input=input)

    def psql(self, sql: str, database: str | None = None) -> str:
        """Run SQL with psql in the db service, as POSTGRES_USER; return the unaligned output."""
        db = database or "$POSTGRES_DB"
        script = f'psql -X -At -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "{db}"'
        return self.exec("db", "sh", "-c", script, input=sql).stdout

    def build(self) -> None:
        self.compose("build", timeout=3600)

    def up(self, *args: str, timeout=300) -> None:
        """`docker compose up -d` and wait until every service is healthy."""
        self.compose("up", "-d", "--wait", "--wait-timeout", str(timeout), *args, timeout=timeout + 60)

    def down(self, *args: str) -> None:
        self.compose("down", "--remove-orphans", *args, timeout=300)

    def containers(self, service: str) -> list[str]:
        return self.compose("ps", "-q", service).stdout.split()

    def state(self, container: str) -> dict:
        return json.loads(run(["docker", "inspect", "--format", "{{json .State}}", container]).stdout)

    def logs(self, *services: str) -> str:
        return self.compose("logs", "--no-color", "--tail", "80", *services, check=False).stdout

    # -- HTTP through Nginx
    @property
    def base(self) -> str:
        return f"https://localhost:{self.https_port}"

    @property
    def http_base(self) -> str:
        return f"http://localhost:{self.http_port}"

    def session(self) -> requests.Session:
        session = requests.Session()
        session.trust_env = False  # no proxy, and REQUESTS_CA_BUNDLE would replace our certificate
        session.verify = str(self.dir / "env" / "tls" / "fullchain.pem")
        return session

    def sign_in(self, username: str, password: str) -> requests.Session:
        """Sign in as the SPA does: the CSRF cookie first, then the credentials with its token."""
        return spa_sign_in(self.session(), self.base, username, password)

    def write_headers(self, session: requests.Session) -> dict[str, str]:
        return spa_write_headers(session, self.base)


def image_size(image: str) -> int:
    return int(run(["docker", "image", "inspect", "--format", "{{.Size}}", image]).stdout)


def prepare(label: str) -> Stack:
    """The engine, the base images and the built images of the working tree; return its stack."""
    with step(f"{label}: engine (install, dockerd, compose v2)"):
        engine()
    stack = Stack.create(STATE / "current")
    with step(f"{label}: base images (present, pulled, or stand-ins)"):
        ensure_images(base_images(stack.dir))
    with step(f"{label}: docker compose build"):
        stack.build()
    return stack


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["prepare"])
    parser.parse_args()
    STATE.mkdir(parents=True, exist_ok=True)
    (STATE / "times.json").unlink(missing_ok=True)
    # The tests wait for this process (by this file) instead of building the same images again.
    (STATE / "prepare.pid").write_text(str(os.getpid()))
    try:
        prepare(label="background")
    except NoEngine as reason:
        log(f"no container engine: {reason}")  # the tests say so again, as their skip reason
    return 0


if __name__ == "__main__":
    sys.exit(main())
