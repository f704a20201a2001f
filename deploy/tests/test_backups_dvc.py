"""backups.sh --dvc: the backups reach the DVC remote and come back from it, as the original tool did.

The repository is a scratch git + DVC checkout laid out like EyeTagger's (its .gitignore,
backups.sh, deploy/dbtools.sh), with a local folder as the DVC remote.
"""

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from .support import REPO, base_env, require_commands, run_script


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def checkout(tmp_path):
    require_commands("git", "sqlite3", "dvc")
    repo = tmp_path / "eyetagger"
    (repo / "deploy").mkdir(parents=True)
    for name in ["backups.sh", ".gitignore", "deploy/dbtools.sh"]:
        shutil.copy2(REPO / name, repo / name)
    env = base_env(HOME=tmp_path, DVC_NO_ANALYTICS="1", GIT_CONFIG_NOSYSTEM="1")
    commands = [
        ["git", "init", "-q"],
        ["git", "config", "user.email", "ops@eyetagger.local"],
        ["git", "config", "user.name", "Ops"],
        ["dvc", "init", "-q"],
        ["dvc", "config", "core.analytics", "false"],
        ["dvc", "remote", "add", "-d", "backups", str(tmp_path / "remote")],
    ]
    for command in commands:
        subprocess.run(command, cwd=repo, env=env, check=True, capture_output=True, timeout=120)
    (repo / "data").mkdir()
    schema = "CREATE TABLE django_migrations (id INTEGER PRIMARY KEY, app TEXT);"
    rows = "INSERT INTO django_migrations (app) VALUES ('api');"
    subprocess.run(["sqlite3", str(repo / "data" / "db.sqlite3"), schema + rows], check=True)
    return repo, env


def test_backups_are_pushed_to_the_dvc_remote_and_pulled_back(checkout):
    repo, env = checkout
    first = run_script([str(repo / "backups.sh"), "--dvc"], env=env, cwd=repo, timeout=300)
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("\n") == 1 and "pushed to the DVC remote" in first.stdout
    second = run_script([str(repo / "backups.sh"), "--dvc"], env=env, cwd=repo, timeout=300)
    assert second.returncode == 0, second.stderr
    backups = sorted((repo / "data" / "backups").iterdir())
    assert len(backups) == 2
    digests = {path.name: sha256(path) for path in backups}

    # The pointer file may be committed (the .gitignore lets it through).
    ignored = subprocess.run(["git", "check-ignore", "-q", "data/backups.dvc"], cwd=repo, env=env)
    assert ignored.returncode == 1

    # Lose the machine's copies; the remote has them. Name the pointer file: DVC skips .dvc files
    # inside git-ignored folders (data/) when it looks for them on its own.
    shutil.rmtree(repo / "data" / "backups")
    shutil.rmtree(repo / ".dvc" / "cache")
    pulled = subprocess.run(
        ["dvc", "pull", "-q", "data/backups.dvc"], cwd=repo, env=env, capture_output=True, text=True, timeout=300
    )
    assert pulled.returncode == 0, pulled.stderr
    assert {path.name: sha256(path) for path in (repo / "data" / "backups").iterdir()} == digests


def test_a_failed_dvc_push_fails_the_run_but_keeps_the_backup(checkout, tmp_path):
    repo, env = checkout
    subprocess.run(["dvc", "remote", "modify", "backups", "url", "/proc/no-such-place"], cwd=repo, env=env, check=True)
    result = run_script([str(repo / "backups.sh"), "--dvc"], env=env, cwd=repo, timeout=300)
    assert result.returncode != 0
    lines = (result.stdout + result.stderr).splitlines()
    assert len(lines) == 1 and "but the DVC push failed" in lines[0]
    assert len(list((repo / "data" / "backups").glob("eyetagger_bkp_*.sqlite3.gz"))) == 1
