"""The stack as a browser meets it: everything through Nginx's published ports, TLS on."""

import hashlib
import re

from .conftest import DATASET


def first_image(stack, session) -> dict:
    datasets = session.get(f"{stack.base}/api/datasets/", timeout=10).json()["results"]
    dataset = next(d for d in datasets if d["slug"] == DATASET)
    images = session.get(f"{stack.base}/api/images/?dataset={dataset['id']}&page_size=100", timeout=10).json()
    return images["results"][0]


def test_the_health_endpoint_answers_through_nginx_and_plain_http_redirects(stack):
    health = stack.session().get(f"{stack.base}/api/health/", timeout=10)
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "database": "ok"}
    plain = stack.session().get(f"{stack.http_base}/api/health/", allow_redirects=False, timeout=10)
    assert plain.status_code == 301
    # To the same host on HTTPS's standard port: Nginx knows not which port the host publishes.
    assert plain.headers["Location"] == "https://localhost/api/health/"


def test_annotators_made_by_create_annotators_sign_in(stack, accounts):
    session = stack.sign_in("ann1", accounts["ann1"])
    me = session.get(f"{stack.base}/api/auth/me/", timeout=10).json()
    assert me["username"] == "ann1"
    cookie = next(c for c in session.cookies if c.name == "sessionid")
    assert cookie.secure and cookie.has_nonstandard_attr("HttpOnly")


def test_the_demo_dataset_imported_by_the_documented_command_is_listed(stack, accounts):
    session = stack.sign_in("ann1", accounts["ann1"])
    datasets = session.get(f"{stack.base}/api/datasets/", timeout=10).json()["results"]
    demo = next(d for d in datasets if d["slug"] == DATASET)
    images = session.get(f"{stack.base}/api/images/?dataset={demo['id']}&page_size=100", timeout=10).json()
    on_disk = sorted(path.name for path in (stack.dir / "data" / "demo" / "images").iterdir())
    assert sorted(image["path"].rsplit("/", 1)[-1] for image in images["results"]) == on_disk


def test_an_annotation_saved_over_the_api_reads_back(stack, accounts):
    session = stack.sign_in("ann2", accounts["ann2"])
    image = first_image(stack, session)
    document = {
        "strokes": [{"tool": "brush", "width": 8.0, "points": [[20.0, 30.0, 0.0, 0.5], [60.5, 44.25, 16.0, 0.5]]}],
        "label": "fake",
        "text": "printed texture",
        "status": "submitted",
        "version": 0,
    }
    url = f"{stack.base}/api/images/{image['id']}/annotation/"
    saved = session.put(url, json=document, headers=stack.write_headers(session), timeout=10)
    assert saved.status_code == 201, saved.text
    stored = stack.sign_in("ann2", accounts["ann2"]).get(url, timeout=10).json()
    assert (stored["strokes"], stored["label"], stored["text"], stored["version"]) == (
        document["strokes"],
        "fake",
        "printed texture",
        1,
    )


def test_a_dataset_image_is_sent_by_nginx_from_the_mounted_folder(stack, accounts):
    session = stack.sign_in("ann1", accounts["ann1"])
    image = first_image(stack, session)
    url = f"{stack.base}/api/images/{image['id']}/file/"
    assert stack.session().get(url, timeout=10).status_code in (401, 403)
    response = session.get(url, timeout=10)
    assert response.status_code == 200
    # Django answers with X-Accel-Redirect and no body: only Nginx, reading ./data, sent the bytes.
    assert response.content == (stack.dir / "data" / "demo" / image["path"]).read_bytes()
    assert hashlib.sha256(response.content).hexdigest() == image["sha256"]
    assert "X-Accel-Redirect" not in response.headers
    assert response.headers["ETag"] == f'"{image["sha256"]}"'
    assert "private" in response.headers["Cache-Control"]


def test_static_files_come_from_nginx_with_their_caching_headers(stack):
    session = stack.session()
    index = session.get(f"{stack.base}/", timeout=10)
    assert index.status_code == 200 and "no-cache" in index.headers["Cache-Control"]
    assets = re.findall(r'(?:src|href)="(/static/assets/[^"]+)"', index.text)
    assert any(url.endswith(".js") for url in assets), index.text
    for url in assets:
        response = session.get(f"{stack.base}{url}", headers={"Accept-Encoding": "gzip"}, timeout=10)
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable", url
    js = next(url for url in assets if url.endswith(".js"))
    assert (
        session.get(f"{stack.base}{js}", headers={"Accept-Encoding": "gzip"}, timeout=10).headers["Content-Encoding"]
        == "gzip"
    )
    manifest = stack.exec("nginx", "cat", "/srv/static/staticfiles.json").stdout
    hashed = re.search(r'"admin/css/base\.css": "([^"]+)"', manifest).group(1)
    assert session.get(f"{stack.base}/static/{hashed}", timeout=10).headers["Cache-Control"] == (
        "public, max-age=31536000, immutable"
    )
    assert session.get(f"{stack.base}/static/admin/css/base.css", timeout=10).headers["Cache-Control"] == (
        "public, max-age=3600"
    )
