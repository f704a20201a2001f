"""The development compose (docker-compose.dev.yaml): runserver and Vite's dev server with hot reload."""

import pytest
import requests

from deploy.containers import stack as ctr

from .test_04_restarts import wait_for


@pytest.fixture(scope="module")
def dev(built):
    """The production stack plus docker-compose.dev.yaml, in its own folder and project, on other ports."""
    dev = ctr.Stack.create(ctr.STATE / "dev", project="eyetagger-test-dev", http_port=8390, https_port=8393)
    dev.write_dotenv("docker-compose.yaml:docker-compose.dev.yaml:compose.test.yaml")
    try:
        with ctr.step("dev compose up -d (npm ci in the vite container; until healthy)"):
            dev.up(timeout=600)
        yield dev
    except Exception:
        print(dev.logs())
        raise
    finally:
        dev.down("-v")


def get(url: str) -> requests.Response | None:
    try:
        return requests.get(url, timeout=10, proxies={"http": None, "https": None})
    except requests.ConnectionError:  # Vite still installing or starting
        return None


def test_runserver_answers_with_debug_on_the_published_port(dev):
    health = get(f"http://localhost:{ctr.DEV_WEB_PORT}/api/health/")
    assert health is not None and health.status_code == 200
    # DEBUG on: Django's technical 404 page names the URL patterns it tried.
    missing = get(f"http://localhost:{ctr.DEV_WEB_PORT}/api/no-such-endpoint/")
    assert missing.status_code == 404 and "URLconf" in missing.text


def test_vite_serves_the_app_with_hot_reload_and_proxies_the_api_to_web(dev):
    page = wait_for(
        lambda: (r := get(f"http://localhost:{ctr.DEV_VITE_PORT}/static/")) is not None and r.status_code == 200 and r,
        300,
        "served by Vite",
    )
    assert "/static/@vite/client" in page.text  # the hot-reload client
    api = get(f"http://localhost:{ctr.DEV_VITE_PORT}/api/health/")
    assert api.status_code == 200 and api.json()["database"] == "ok"
