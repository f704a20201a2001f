"""docker-compose.yaml, docker-compose.dev.yaml and the Dockerfile, checked without a Docker engine.

The compose files are validated against the Compose Specification's JSON schema (the copy
check-jsonschema ships) and the Dockerfile is linted with hadolint; the rest reads them as
data: services, health checks, volumes, the read-only dataset mount, the non-root user.
"""

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field

import pytest
import yaml

from .support import REPO, TEMPLATE, TEMPLATE_NAMES, VENV_BIN, base_env, template_names

COMPOSE = yaml.safe_load((REPO / "docker-compose.yaml").read_text())
COMPOSE_DEV = yaml.safe_load((REPO / "docker-compose.dev.yaml").read_text())
SERVICES = COMPOSE["services"]
SPA_SOURCES = {"package.json", "package-lock.json", "index.html", "vite.config.js", "src"}  # from the SPA's branch


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [argument for instruction, argument in self.instructions if instruction == keyword]


def parse_dockerfile(text: str) -> list[Stage]:
    """Return the stages, each with its instructions; ARGs declared before the first FROM are filled in."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in joined.splitlines():
        if not line.strip():
            continue
        instruction, _, argument = line.strip().partition(" ")
        instruction, argument = instruction.upper(), argument.strip()
        if instruction == "ARG" and not stages:
            name, _, default = argument.partition("=")
            args[name] = default
        elif instruction == "FROM":
            argument = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], argument)
            parts = argument.split()
            stages.append(Stage(base=parts[0], name=parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None))
        else:
            stages[-1].instructions.append((instruction, argument))
    return stages


STAGES = parse_dockerfile((REPO / "Dockerfile").read_text())
BY_NAME = {stage.name: stage for stage in STAGES}


def chain(stage: Stage) -> list[Stage]:
    """Return the stage and the stages it builds on, nearest first."""
    stages = [stage]
    while stages[-1].base in BY_NAME:
        stages.append(BY_NAME[stages[-1].base])
    return stages


FINAL = chain(STAGES[-1])


def effective(keyword: str) -> str | None:
    """Return the last value of an inherited instruction (USER, HEALTHCHECK...) in the final image."""
    for stage in FINAL:
        values = stage.all(keyword)
        if values:
            return values[-1]
    return None


def test_the_compose_files_follow_the_compose_specification():
    result = subprocess.run(
        [str(VENV_BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec",
         "docker-compose.yaml", "docker-compose.dev.yaml"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_runs_the_database_the_web_tier_nginx_and_backups():
    assert set(SERVICES) == {"db", "web", "nginx", "backup"}


def test_every_service_restarts_by_itself_and_has_a_healthcheck():
    for name, service in SERVICES.items():
        assert service["restart"] == "unless-stopped", name
        assert service["healthcheck"]["test"], name


def test_the_database_is_postgres_15_with_its_data_in_a_named_volume():
    db = SERVICES["db"]
    assert db["image"].startswith("postgres:15")
    assert "pgdata:/var/lib/postgresql/data" in db["volumes"]
    assert "pgdata" in COMPOSE["volumes"]
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])


def test_web_and_backups_wait_for_a_healthy_database():
    for name in ("web", "backup"):
        assert SERVICES[name]["depends_on"]["db"]["condition"] == "service_healthy", name
    assert SERVICES["nginx"]["depends_on"]["web"]["condition"] == "service_healthy"


def test_web_migrates_the_database_before_starting_gunicorn():
    assert effective("ENTRYPOINT") == '["/app/deploy/docker-entrypoint.sh"]'
    entrypoint = (REPO / "deploy" / "docker-entrypoint.sh").read_text()
    assert entrypoint.index("manage.py migrate") < entrypoint.index('exec "$@"')
    assert "gunicorn" in effective("CMD")


def test_the_dataset_folder_is_mounted_read_only_into_web_and_nginx():
    mounted = {}
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            if isinstance(volume, dict) and volume["target"] == "/datasets":
                assert volume["read_only"] is True, name
                mounted[name] = volume["source"]
            else:
                assert "/datasets" not in str(volume), (name, volume)
    assert set(mounted) == {"web", "nginx"}


def test_the_web_tier_keeps_no_state_of_its_own():
    web = SERVICES["web"]
    assert web["read_only"] is True
    assert web["tmpfs"] == ["/tmp"]
    assert "ports" not in web  # reachable only through Nginx, which sets the headers Django trusts
    # It writes only uploaded datasets and uploads arriving, into named volumes every replica shares.
    writable = {
        volume["target"] for volume in web["volumes"] if isinstance(volume, dict) and not volume.get("read_only")
    }
    assert writable == {"/uploads", "/upload-temp"}


def image_env(stage: str) -> dict[str, str]:
    """Return the environment a Dockerfile stage sets (ENV NAME=value ...)."""
    return dict(re.findall(r"([A-Z_]+)=(\S+)", " ".join(BY_NAME[stage].all("ENV"))))


def env_example(name: str) -> dict[str, str]:
    return dict(re.findall(r"^([A-Z_0-9]+)=(.*)$", (REPO / "env" / f"{name}.env.example").read_text(), re.MULTILINE))


def mounts(service: str) -> dict[str, dict]:
    """Return a service's named-volume mounts by volume name."""
    volumes = SERVICES[service].get("volumes", [])
    return {v["source"]: v for v in volumes if isinstance(v, dict) and v["type"] == "volume"}


def test_uploaded_datasets_go_to_a_volume_web_writes_and_nginx_reads():
    uploads = image_env("app")["DATASET_UPLOAD_ROOT"]
    assert "DATASET_UPLOAD_ROOT" not in env_example("django")  # the image's, where compose mounts the volume
    assert "uploads" in COMPOSE["volumes"]
    web, nginx = mounts("web")["uploads"], mounts("nginx")["uploads"]
    assert web["target"] == uploads and not web.get("read_only")
    assert nginx["read_only"] is True and nginx["volume"]["nocopy"] is True  # web's image gives it its owner
    # Nginx finds the images where its internal location for uploaded datasets points.
    assert nginx["target"] == image_env("nginx")["NGINX_UPLOAD_ROOT"] == env_example("nginx")["NGINX_UPLOAD_ROOT"]
    assert re.search(
        r"location /protected-datasets/uploads/ \{\s*internal;\s*alias \$\{NGINX_UPLOAD_ROOT\}/;", TEMPLATE.read_text()
    )


def test_uploads_arriving_are_spooled_to_a_volume_not_the_small_tmpfs():
    spool = image_env("app")["FILE_UPLOAD_TEMP_DIR"]
    assert "FILE_UPLOAD_TEMP_DIR" not in env_example("django")
    assert "upload-temp" in COMPOSE["volumes"] and mounts("web")["upload-temp"]["target"] == spool
    assert "upload-temp" not in mounts("nginx")
    assert not spool.startswith("/tmp")


def test_the_image_gives_the_upload_folders_to_the_user_it_runs_as():
    runs = " ".join(BY_NAME["app"].all("RUN"))
    folders = [image_env("app")["DATASET_UPLOAD_ROOT"], image_env("app")["FILE_UPLOAD_TEMP_DIR"]]
    assert f"mkdir {' '.join(folders)}" in runs
    assert f"chown eyetagger:eyetagger {' '.join(folders)}" in runs
    assert "useradd --system --uid 10001" in runs and effective("USER").startswith("10001")


def test_the_entrypoint_removes_upload_leftovers_a_day_old(tmp_path):
    spool, uploads = tmp_path / "upload-temp", tmp_path / "uploads"
    spool.mkdir()
    uploads.mkdir()
    old = {spool / "tmpa1b2.upload.zip", uploads / ".unpacking-x1y2"}
    new = {spool / "tmpc3d4.upload.zip", uploads / ".unpacking-z3w4"}
    kept = {uploads / "irises", spool / "notes.txt"}  # a dataset, and what is not an upload
    for path in old | new | kept:
        path.mkdir() if path.parent == uploads else path.write_text("x")
    for path in old | {spool / "notes.txt", uploads / "irises"}:
        os.utime(path, (time.time() - 2 * 86400, time.time() - 2 * 86400))
    env = base_env(MIGRATE_ON_START="false", FILE_UPLOAD_TEMP_DIR=spool, DATASET_UPLOAD_ROOT=uploads)
    result = subprocess.run(
        [str(REPO / "deploy" / "docker-entrypoint.sh"), "true"], env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert {path for path in old | new | kept if path.exists()} == new | kept


def test_nginx_publishes_https_and_the_redirecting_http_port():
    nginx = SERVICES["nginx"]
    assert [port.rsplit(":", 1)[1] for port in nginx["ports"]] == ["80", "443"]
    assert "./env/tls:/etc/nginx/tls:ro" in nginx["volumes"]
    assert nginx["build"]["target"] == "nginx"


def test_backups_run_backups_sh_into_data_backups():
    backup = SERVICES["backup"]
    assert backup["image"] == SERVICES["db"]["image"]  # pg_dump of the server's own version
    assert "./backups.sh:/eyetagger/backups.sh:ro" in backup["volumes"]
    assert "./data/backups:/eyetagger/data/backups" in backup["volumes"]
    assert backup["entrypoint"] == ["/eyetagger/deploy/backup-loop.sh"]


def test_every_env_file_has_an_example_and_every_example_is_used():
    used = set()
    for service in SERVICES.values():
        files = service.get("env_file", [])
        used.update([files] if isinstance(files, str) else files)
    examples = {f"env/{path.name.removesuffix('.example')}" for path in (REPO / "env").glob("*.env.example")}
    assert used == examples


def test_the_nginx_template_variables_are_set_by_the_image_and_the_env_example():
    assert template_names(TEMPLATE.read_text()) == TEMPLATE_NAMES
    example = (REPO / "env" / "nginx.env.example").read_text()
    assert set(re.findall(r"^([A-Z_]+)=", example, re.MULTILINE)) == TEMPLATE_NAMES
    image_env = " ".join(BY_NAME["nginx"].all("ENV"))
    assert set(re.findall(r"([A-Z_]+)=", image_env)) == TEMPLATE_NAMES


def test_the_development_variant_reloads_django_and_runs_vite():
    services = COMPOSE_DEV["services"]
    assert services["web"]["command"][-2:] == ["runserver", "0.0.0.0:8000"]
    assert services["web"]["environment"]["DEBUG"] == "true"
    assert "npm run dev" in " ".join(services["vite"]["command"])
    assert services["vite"]["image"].startswith("node:20")


def test_the_dockerfile_builds_the_spa_with_node_and_runs_on_slim_python():
    assert BY_NAME["spa"].base.startswith("node:20")
    assert "npm run build" in BY_NAME["spa"].all("RUN")
    assert FINAL[-1].base.startswith("python:3.11-slim")
    assert any(copy.startswith("--from=spa /spa/dist") for copy in BY_NAME["app"].all("COPY"))
    assert any(copy.startswith("--from=app /app/staticfiles") for copy in BY_NAME["nginx"].all("COPY"))
    assert STAGES[-1].name == "web"  # `docker build .` gives the application


def test_the_final_image_runs_as_a_non_root_user():
    user = effective("USER")
    assert user is not None
    assert user.split(":")[0] not in ("root", "0")


def test_the_final_image_has_no_build_tools():
    runs = " ".join(run for stage in FINAL for run in stage.all("RUN"))
    for tool in ("apt-get", "apk ", "build-essential", "gcc", "npm", "pip install", "pipenv"):
        assert tool not in runs, tool
    assert not FINAL[-1].base.startswith("node")


def test_static_files_are_collected_when_the_image_is_built():
    assert "manage.py collectstatic --no-input" in " ".join(BY_NAME["app"].all("RUN"))


def test_the_image_checks_its_health_on_api_health():
    healthcheck = effective("HEALTHCHECK")
    assert "/app/deploy/healthcheck.py" in healthcheck
    assert '"/api/health/"' in (REPO / "deploy" / "healthcheck.py").read_text()
    assert SERVICES["web"]["healthcheck"]["test"] == ["CMD", "python", "/app/deploy/healthcheck.py"]


def test_every_file_the_dockerfile_copies_exists():
    spa_merged = (REPO / "package.json").exists()
    for stage in STAGES:
        for copy in stage.all("COPY"):
            if copy.startswith("--from="):
                continue
            for source in copy.split()[:-1]:
                if source in SPA_SOURCES and not spa_merged:
                    continue  # the SPA's own files arrive with its branch
                assert (REPO / source).exists(), source


def test_the_build_context_leaves_secrets_data_and_local_builds_out():
    ignored = set((REPO / ".dockerignore").read_text().split())
    assert {".git", ".venv", "data", "env", "node_modules", "dist", "staticfiles"} <= ignored


def test_hadolint_finds_nothing_to_improve_in_the_dockerfile():
    result = subprocess.run([str(VENV_BIN / "hadolint"), "Dockerfile"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_installs_exactly_the_locked_runtime_packages():
    # The Makefile's pipenv: the one on the PATH, or else the one it installs into .tools/.
    pipenv = shutil.which("pipenv", path=f"{base_env()['PATH']}{os.pathsep}{REPO / '.tools' / 'bin'}")
    if pipenv is None:
        pytest.fail("pipenv is missing: `make deps` installs it")
    result = subprocess.run(
        [pipenv, "requirements", "--hash"],
        cwd=REPO,
        env={**base_env(), "PIPENV_VERBOSITY": "-1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    pins = dict(re.findall(r"^([a-z0-9_.-]+)(?:\[[^\]]*\])?==([^ ;]+)", result.stdout, re.MULTILINE | re.IGNORECASE))
    assert {"django", "gunicorn", "psycopg-binary", "django-storages", "django-csp", "whitenoise"} <= set(pins)
    assert not {"pytest", "dvc", "moto", "ruff"} & set(pins)
    assert all("--hash=sha256:" in line for line in result.stdout.splitlines() if "==" in line)
