"""The SPA's shell: dist/index.html at / and at every SPA route, never at /api/ or /static/."""

import pytest

from backend import spa

INDEX = (
    '<!doctype html><html><head><script type="module" crossorigin src="/static/assets/index-Ab12Cd34.js">'
    '</script></head><body><div id="app"></div></body></html>'
)


@pytest.fixture
def dist(tmp_path, settings):
    folder = tmp_path / "dist"
    folder.mkdir()
    (folder / "index.html").write_text(INDEX)
    (folder / "sw.js").write_text("self.addEventListener('fetch', () => {});")
    settings.SPA_DIST_DIR = folder
    spa._index_html.cache_clear()  # production reads the file once
    yield folder
    spa._index_html.cache_clear()


@pytest.mark.parametrize("path", ["/", "/datasets/3/annotate", "/done", "/sign-in?next=/datasets/"])
def test_the_index_is_served_at_the_root_and_at_every_spa_route(client, dist, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.content.decode() == INDEX
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert "no-cache" in response["Cache-Control"]


def test_the_index_sets_the_csrf_cookie_for_signing_in(client, dist):
    assert "csrftoken" in client.get("/").cookies


@pytest.mark.parametrize("path", ["/api/no-such-thing/", "/static/assets/missing.js"])
def test_api_and_static_paths_never_get_the_index(client, dist, path):
    response = client.get(path)
    assert response.status_code == 404
    assert b"index-Ab12Cd34" not in response.content


def test_the_index_cannot_be_posted_to(client, dist):
    assert client.post("/").status_code == 405
    assert client.post("/datasets/3/images/17").status_code == 405


def test_the_service_worker_is_served_at_the_root_and_revalidated(client, dist):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert "no-cache" in response["Cache-Control"]


def test_a_missing_build_says_how_to_make_it(client, settings, tmp_path):
    settings.SPA_DIST_DIR = tmp_path / "nothing-built"
    spa._index_html.cache_clear()
    response = client.get("/")
    spa._index_html.cache_clear()
    assert response.status_code == 503
    assert b"npm ci && npm run build" in response.content


def test_with_a_static_host_the_assets_come_from_it(client, dist, settings):
    settings.STATIC_URL = "https://cdn.example.org/static/"
    content = client.get("/").content.decode()
    assert 'src="https://cdn.example.org/static/assets/index-Ab12Cd34.js"' in content


def test_pages_carry_the_content_security_policy(client, dist):
    header = client.get("/")["Content-Security-Policy"]
    policy = {name: sources for name, *sources in (part.split() for part in header.split(";") if part.strip())}
    assert policy["default-src"] == policy["script-src"] == ["'self'"]
    assert "'unsafe-eval'" not in sum(policy.values(), [])
