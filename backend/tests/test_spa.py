"""Serving the single-page app: index.html at every SPA route, never for the API or static files."""

import pytest


@pytest.fixture
def built(tmp_path, settings):
    """A stand-in for dist/: index.html and sw.js."""
    (tmp_path / "index.html").write_text("<!doctype html><div id=app></div>")
    (tmp_path / "sw.js").write_text("self.addEventListener('fetch', () => {});")
    settings.SPA_DIST_DIR = tmp_path
    return tmp_path


@pytest.mark.parametrize("path", ["/", "/signin", "/datasets/3/images/17", "/datasets/3/done"])
def test_every_spa_route_returns_index_html(client, built, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"<div id=app>" in response.content


def test_index_html_is_revalidated_so_a_new_build_is_picked_up(client, built):
    response = client.get("/")
    assert "no-cache" in response["Cache-Control"]


def test_index_html_sets_the_csrf_cookie_for_signing_in(client, built):
    response = client.get("/signin")
    assert "csrftoken" in response.cookies


def test_unknown_api_paths_are_not_answered_with_the_spa(client, built):
    response = client.get("/api/no-such-endpoint/")
    assert response.status_code == 404
    assert b"<div id=app>" not in response.content


def test_a_missing_build_is_explained_instead_of_a_blank_page(client, tmp_path, settings):
    settings.SPA_DIST_DIR = tmp_path / "missing"
    response = client.get("/")
    assert response.status_code == 503
    assert b"npm run build" in response.content


def test_the_service_worker_is_served_at_the_root(client, built):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert "no-cache" in response["Cache-Control"]


def test_posting_to_an_spa_route_is_refused(client, built):
    assert client.post("/datasets/3/images/17").status_code == 405
