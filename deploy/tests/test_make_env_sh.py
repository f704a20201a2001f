"""deploy/make-env.sh (`make env`): real env files with generated secrets, never overwritten by accident."""

import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from .support import REPO, base_env, manage, run_script

MAKE_ENV = str(REPO / "deploy" / "make-env.sh")


def read_env(path: Path) -> dict[str, str]:
    return dict(re.findall(r"^([A-Z_0-9]+)=(.*)$", path.read_text(), re.MULTILINE))


@pytest.fixture
def env_dir(tmp_path) -> Path:
    folder = tmp_path / "env"
    folder.mkdir()
    for example in (REPO / "env").glob("*.env.example"):
        shutil.copy(example, folder)
    return folder


def make_env(env_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return run_script([MAKE_ENV, "--dir", str(env_dir), *args], env=base_env())


def test_every_example_becomes_an_env_file_readable_only_by_its_owner(env_dir):
    result = make_env(env_dir, "--host", "eyetagger.lab.example.edu")
    assert result.returncode == 0, result.stderr
    examples = sorted(path.name.removesuffix(".example") for path in env_dir.glob("*.env.example"))
    assert sorted(path.name for path in env_dir.glob("*.env")) == examples
    for name in examples:
        text = (env_dir / name).read_text()
        assert "__" not in re.sub(r"#.*", "", text), name  # no placeholder left
        assert stat.S_IMODE((env_dir / name).stat().st_mode) == 0o600, name


def test_the_secret_key_and_database_password_are_generated_and_agree(env_dir):
    assert make_env(env_dir, "--host", "eyetagger.lab.example.edu").returncode == 0
    django, postgres = read_env(env_dir / "django.env"), read_env(env_dir / "postgres.env")
    assert re.fullmatch(r"[0-9a-f]{100}", django["SECRET_KEY"])
    assert re.fullmatch(r"[0-9a-f]{40}", postgres["POSTGRES_PASSWORD"])
    user, password, name = postgres["POSTGRES_USER"], postgres["POSTGRES_PASSWORD"], postgres["POSTGRES_DB"]
    assert django["DATABASE_URL"] == f"postgres://{user}:{password}@db:5432/{name}"
    assert django["ALLOWED_HOSTS"] == "eyetagger.lab.example.edu"


def test_existing_env_files_are_never_overwritten_without_force(env_dir):
    assert make_env(env_dir).returncode == 0
    before = {path.name: path.read_bytes() for path in env_dir.glob("*.env")}
    again = make_env(env_dir)
    assert again.returncode != 0
    assert "nothing written" in again.stderr
    assert {path.name: path.read_bytes() for path in env_dir.glob("*.env")} == before

    forced = make_env(env_dir, "--force")
    assert forced.returncode == 0, forced.stderr
    assert read_env(env_dir / "django.env")["SECRET_KEY"] != read_env_bytes(before["django.env"])["SECRET_KEY"]


def read_env_bytes(data: bytes) -> dict[str, str]:
    return dict(re.findall(r"^([A-Z_0-9]+)=(.*)$", data.decode(), re.MULTILINE))


def test_a_self_signed_certificate_is_made_for_the_host_once(env_dir):
    assert make_env(env_dir, "--host", "eyetagger.lab.example.edu").returncode == 0
    certificate, key = env_dir / "tls" / "fullchain.pem", env_dir / "tls" / "privkey.pem"
    names = subprocess.run(
        ["openssl", "x509", "-in", str(certificate), "-noout", "-ext", "subjectAltName"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "DNS:eyetagger.lab.example.edu" in names
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    first = certificate.read_bytes()
    assert make_env(env_dir, "--force").returncode == 0
    assert certificate.read_bytes() == first  # an operator's own certificate is never replaced


def test_the_generated_django_env_passes_the_deployment_checks(env_dir, tmp_path):
    assert make_env(env_dir, "--host", "eyetagger.lab.example.edu").returncode == 0
    settings = read_env(env_dir / "django.env")
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING",
        env=base_env(**settings, DATA_DIR=tmp_path / "data"), check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_a_bad_host_name_is_refused(env_dir):
    result = make_env(env_dir, "--host", "eyetagger example")
    assert result.returncode != 0
    assert "--host must be a host name" in result.stderr
    assert list(env_dir.glob("*.env")) == []


def test_make_env_explains_itself():
    result = run_script([MAKE_ENV, "--help"], env=base_env())
    assert result.returncode == 0
    assert "Usage: deploy/make-env.sh" in result.stdout
