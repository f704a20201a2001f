"""An upgrade as docs/operations.md writes it: the previous commit's stack with data, then this one's.

The previous commit is HEAD^ (EYETAGGER_UPGRADE_FROM names another). Its images are built from its
own Dockerfile; then, in the same folder with the same env files, volumes and backups, the files
are replaced by this working tree's (what `git pull` does) and `docker compose up -d --build`
runs: web migrates as it starts, and nothing saved before may be missing after.
"""

import os
import subprocess

import pytest

from deploy.containers import stack as ctr

from .conftest import DATASET, fingerprint
from .test_03_operator_commands import image_ids, save
from .test_04_restarts import health, wait_for

PREVIOUS = os.environ.get("EYETAGGER_UPGRADE_FROM", "HEAD^")


def previous_commit() -> str:
    found = subprocess.run(["git", "rev-parse", "--verify", "-q", f"{PREVIOUS}^{{commit}}"], cwd=ctr.REPO,
                           capture_output=True, text=True)  # fmt: skip
    if found.returncode != 0:
        pytest.skip(f"upgrade test skipped: no commit {PREVIOUS} here (a shallow clone?); set EYETAGGER_UPGRADE_FROM")
    return found.stdout.strip()


def without_registry() -> bool:
    """Whether the base images are this machine's stand-ins (no registry answers)."""
    ids = [
        ctr.run(["docker", "image", "inspect", "--format", "{{.Id}}", image], check=False).stdout.strip()
        for image in ("python:3.11-slim-bookworm", "eyetagger-standin/python:latest")
    ]
    return ids[0] != "" and ids[0] == ids[1]


def replace_files(stack: ctr.Stack, commit: str) -> None:
    """Do what `git pull` does to the deployment's folder: this tree's files in, the removed ones out."""
    new = ctr.copy_checkout(ctr.STATE / "upgrade-new")
    old_files = ctr.run(["git", "ls-tree", "-r", "--name-only", commit], cwd=ctr.REPO).stdout.split("\n")
    for name in filter(None, old_files):
        if not (new / name).exists():
            (stack.dir / name).unlink(missing_ok=True)
    ctr.run(["cp", "-a", f"{new}/.", str(stack.dir)])


@pytest.fixture(scope="module")
def upgraded(built):
    commit = previous_commit()
    old = ctr.Stack.create(ctr.STATE / "upgrade", project="eyetagger-test-upgrade", tag="previous", commit=commit,
                           http_port=8396, https_port=8397)  # fmt: skip
    dockerfile = old.dir / "Dockerfile"
    if without_registry() and dockerfile.read_text().startswith("# syntax="):
        # BuildKit would pull that frontend image; without it the built-in one reads the same file.
        dockerfile.write_text(dockerfile.read_text().split("\n", 1)[1])
    seeded = {}
    try:
        with ctr.step(f"upgrade: build and start the previous commit ({commit[:10]})"):
            ctr.ensure_images(ctr.base_images(old.dir))
            old.build()
            # Not --wait: an older version's backup service may be unhealthy at first (fixed since).
            old.compose("up", "-d", check=False, timeout=900)
            for service in ("db", "web", "nginx"):
                wait_for(lambda service=service: health(old, service) == "healthy", 600, f"{service} healthy")
        old.sh(
            "docker compose exec -T web python manage.py import_dataset /datasets/demo --slug demo-irises "
            '--name "Demo irises" --question "Is this image real or fake?" --choices real,fake --require choice,mask'
        )
        (old.dir / "users.csv").write_text("ann1,ann1@example.org,\n")
        printed = old.sh("docker compose exec -T web python manage.py create_annotators /dev/stdin < users.csv")
        password = next(line.split()[1] for line in printed.stdout.splitlines() if line.startswith("ann1 "))
        session = old.sign_in("ann1", password)
        seeded["image"] = image_ids(old, session)[0]
        seeded["annotation"] = save(old, session, seeded["image"], "saved before the upgrade")
        seeded["tables"] = fingerprint(old, skip=("eyetagger_cache", "django_session"))
        seeded["password"] = password

        with ctr.step("upgrade: backups.sh, the new files, docker compose up -d --build (until healthy)"):
            old.sh("./backups.sh")
            replace_files(old, commit)
            (old.dir / "compose.test.yaml").write_text(ctr.TEST_OVERRIDE.format(tag="current"))
            old.sh("docker compose up -d --build --wait --wait-timeout 300", timeout=1800)
        yield old, seeded
    except Exception:
        print(old.logs())
        raise
    finally:
        old.down("-v")


def test_the_upgraded_stack_runs_the_new_images_with_every_migration_applied(upgraded):
    stack, _ = upgraded
    for service, image in (("web", "eyetagger-test-web:current"), ("nginx", "eyetagger-test-nginx:current")):
        (container,) = stack.containers(service)
        running = ctr.run(["docker", "inspect", "--format", "{{.Image}}", container]).stdout.strip()
        assert running == ctr.run(["docker", "image", "inspect", "--format", "{{.Id}}", image]).stdout.strip()
    assert stack.sh("docker compose exec -T web python manage.py migrate --check", check=False).returncode == 0


def test_nothing_saved_before_the_upgrade_is_lost(upgraded):
    stack, seeded = upgraded
    after = fingerprint(stack, skip=("eyetagger_cache", "django_session"))
    # Every table is still there with every row (a new migration may add tables, or columns to rows).
    for table, before in seeded["tables"].items():
        assert after[table].split()[0] == before.split()[0], table
    session = stack.sign_in("ann1", seeded["password"])
    annotation = seeded["annotation"]
    stored = session.get(f"{stack.base}/api/images/{seeded['image']}/annotation/", timeout=10).json()
    assert (stored["text"], stored["version"]) == (annotation["text"], annotation["version"])
    datasets = session.get(f"{stack.base}/api/datasets/", timeout=10).json()["results"]
    assert DATASET in [dataset["slug"] for dataset in datasets]
    assert list((stack.dir / "data" / "backups").glob("eyetagger_bkp_*.sql.gz"))
