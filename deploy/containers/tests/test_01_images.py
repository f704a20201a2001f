"""The images `docker compose build` makes: what they run as, what they carry, how big they are."""

import json

from deploy.containers import stack as ctr

from .conftest import record

WEB, NGINX = "eyetagger-test-web:current", "eyetagger-test-nginx:current"
BUILD_TOOLS = ["gcc", "cc", "make", "node", "npm", "pipenv", "apt-get install"]


def inspect(container: str) -> dict:
    return json.loads(ctr.run(["docker", "inspect", container]).stdout)[0]


def image_base(image: str) -> str:
    """Return the base image the final stage was built FROM (the Dockerfile's defaults)."""
    args = dict(
        line.removeprefix("ARG ").split("=", 1)
        for line in (ctr.REPO / "Dockerfile").read_text().splitlines()
        if line.startswith("ARG ")
    )
    return args["PYTHON_IMAGE"] if image == WEB else args["NGINX_IMAGE"]


def test_both_images_are_built_and_their_sizes_reported(built):
    for image in (WEB, NGINX):
        size = ctr.image_size(image)
        base = ctr.image_size(image_base(image))
        record(f"{image} (MB; of which the base image {image_base(image)})", f"{size / 1e6:.0f} ({base / 1e6:.0f})")
        # What the project adds on top of its base: the virtualenv, code, SPA and static files.
        added = size - base
        record(f"{image} adds to its base (MB)", f"{added / 1e6:.0f}")
    # Guard against build tools or a second copy of the packages sneaking into the web image:
    # its own layers are the locked packages (NumPy, SciPy, Pillow...) and the code, ~330 MB.
    assert ctr.image_size(WEB) - ctr.image_size(image_base(WEB)) < 450e6


def test_the_runtime_images_carry_no_compilers_node_or_pipenv(built):
    for image in (WEB, NGINX):
        found = ctr.run(
            ["docker", "run", "--rm", "--entrypoint", "sh", image, "-c",
             "for tool in gcc cc make node npm pipenv; do command -v $tool || true; done"],
        ).stdout.split()  # fmt: skip
        assert found == [], (image, found)


def test_web_runs_as_its_own_user_on_a_read_only_root_file_system(stack):
    (container,) = stack.containers("web")
    details = inspect(container)
    assert details["Config"]["User"] == "10001:10001"
    assert details["HostConfig"]["ReadonlyRootfs"] is True
    assert stack.exec("web", "id", "-u").stdout.strip() == "10001"
    refused = stack.exec("web", "touch", "/app/written", check=False)
    assert refused.returncode != 0 and "Read-only file system" in refused.stderr
    # It may write only its volumes and /tmp (a tmpfs).
    for folder in ("/uploads", "/upload-temp", "/tmp"):
        stack.exec("web", "sh", "-c", f"touch {folder}/probe && rm {folder}/probe")


def test_every_service_is_healthy_by_a_check_that_tests_it(stack):
    checks = {}
    for service in ("db", "web", "nginx", "backup"):
        (container,) = stack.containers(service)
        details = inspect(container)
        assert details["State"]["Health"]["Status"] == "healthy", (service, details["State"]["Health"])
        checks[service] = " ".join(details["Config"]["Healthcheck"]["Test"])
    assert "pg_isready" in checks["db"]
    assert "healthcheck.py" in checks["web"]  # /api/health/, which asks the database
    assert "https://127.0.0.1" in checks["nginx"] and "/static/" in checks["nginx"]
    assert "--check" in checks["backup"]  # healthy only once a backup exists
