"""Production settings (DEBUG off): `manage.py check --deploy` is clean, and misconfigurations say so."""

import pytest

from .support import manage, production_env


def check_deploy(tmp_path, **overrides):
    env = production_env(tmp_path, **overrides)
    return manage("check", "--deploy", "--fail-level", "WARNING", env=env, check=False)


def test_the_deployment_checks_pass_without_a_warning(tmp_path):
    result = check_deploy(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_production_writes_no_files_of_its_own(tmp_path):
    assert check_deploy(tmp_path).returncode == 0
    assert list((tmp_path / "data-dir").iterdir()) == []


@pytest.mark.parametrize("cache_url", ["locmemcache://", "dummycache://"])
def test_a_cache_the_workers_do_not_share_is_flagged(tmp_path, cache_url):
    result = check_deploy(tmp_path, CACHE_URL=cache_url)
    assert result.returncode != 0
    assert "eyetagger.W001" in result.stderr


def test_https_redirects_without_the_proxy_header_are_flagged(tmp_path):
    env = production_env(tmp_path)
    del env["SECURE_PROXY_SSL_HEADER"]
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env, check=False)
    assert result.returncode != 0
    assert "eyetagger.W002" in result.stderr


def test_production_refuses_to_start_with_the_example_secret_key(tmp_path):
    result = check_deploy(tmp_path, SECRET_KEY="__secret_key__")
    assert result.returncode != 0
    assert "run `make env`" in result.stderr


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = check_deploy(tmp_path, SECRET_KEY="")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_a_static_host_serves_the_static_files_and_is_allowed_by_the_policy(tmp_path):
    env = production_env(tmp_path, DJANGO_STATIC_HOST="https://cdn.example.org/")
    shown = manage(
        "shell", "--verbosity", "0", "-c",
        "from django.conf import settings; "
        "print(settings.STATIC_URL); print(settings.CONTENT_SECURITY_POLICY['DIRECTIVES']['script-src'])",
        env=env,
    ).stdout.splitlines()  # fmt: skip
    assert shown[0] == "https://cdn.example.org/static/"
    assert "https://cdn.example.org" in shown[1]


def test_the_secure_settings_are_on_in_production_and_off_in_development(tmp_path):
    script = (
        "from django.conf import settings as s; print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
        "s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.CACHES['default']['BACKEND'].rsplit('.', 1)[-1])"
    )
    production = manage("shell", "-v", "0", "-c", script, env=production_env(tmp_path)).stdout.split()
    development = manage("shell", "-v", "0", "-c", script, env=production_env(tmp_path, DEBUG="true")).stdout.split()
    assert production == ["True", "True", "True", "31536000", "DatabaseCache"]
    assert development == ["False", "False", "False", "0", "LocMemCache"]
