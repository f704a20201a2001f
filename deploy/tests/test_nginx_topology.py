"""The production topology without containers, all on 127.0.0.1.

Debian's Nginx runs deploy/nginx/eyetagger.conf (filled in with ports and paths, as the nginx
image does), in front of two Gunicorn replicas started by deploy/docker-entrypoint.sh with
deploy/gunicorn.conf.py, on a scratch Postgres database, with DEBUG off and TLS on.

The SPA is the real build (dist/) when there is one, else a stand-in with the same shape: an
index.html naming hashed assets under /static/assets/.
"""

import hashlib
import io
import json
import os
import re
import secrets
import shutil
import subprocess
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psycopg
import pytest
import requests
from PIL import Image as PILImage

from deploy.spa_client import spa_sign_in, spa_write_headers

from .support import (
    LOCALHOST,
    REPO,
    VENV_BIN,
    Server,
    base_env,
    copy_demo_dataset,
    create_database,
    drop_database,
    free_port,
    manage,
    production_env,
    render_nginx_conf,
    require_commands,
    scratch_database_name,
    wait_for_port,
)

ODD_IMAGE = "iris 13 ü.png"  # a space and a non-ASCII letter, as real datasets have
USERNAME = "ann"
PASSWORD = secrets.token_urlsafe(16)
ADMIN_USERNAME = "boss"
ADMIN_PASSWORD = secrets.token_urlsafe(16)
THROTTLE = 5  # LOGIN_THROTTLE_RATE for this deployment, per minute


def write_nginx_main_conf(folder: Path, server_conf: str) -> Path:
    """Write an nginx.conf like the official image's, running from folder as this user."""
    (folder / "eyetagger.conf").write_text(server_conf)
    temp = folder / "temp"
    temp.mkdir()
    # As root, Nginx's workers would switch to "nobody", who cannot read the test's private folders.
    user = "user root;" if os.geteuid() == 0 else ""
    main = folder / "nginx.conf"
    main.write_text(
        f"""{user}
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log info;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    access_log {folder}/access.log;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {folder}/eyetagger.conf;
}}
"""
    )
    return main


def start_nginx(folder: Path, values: dict[str, str], ports: list[int]) -> Server:
    folder.mkdir()
    main = write_nginx_main_conf(folder, render_nginx_conf(values))
    nginx = shutil.which("nginx", path=base_env()["PATH"]) or "nginx"
    test = subprocess.run([nginx, "-t", "-p", str(folder), "-c", str(main)], capture_output=True, text=True)
    assert test.returncode == 0, test.stderr
    server = Server([nginx, "-p", str(folder), "-c", str(main), "-g", "daemon off;"], log=folder / "nginx.out")
    for port in ports:
        wait_for_port(port, server.process)
    return server


def make_stand_in_dist(folder: Path) -> Path:
    """Write a dist/ shaped like Vite's build: index.html naming hashed assets under /static/assets/."""
    assets = folder / "assets"
    assets.mkdir(parents=True)
    script = "document.getElementById('app').textContent = 'EyeTagger stand-in app: scripts run';\n"
    (assets / "index-Dq3bT9xk.js").write_text(script + "// " + "padding so that gzip pays " * 100 + "\n")
    (assets / "index-C7aLm2Qe.css").write_text("body { font-family: sans-serif; }\n" * 40)
    (folder / "index.html").write_text(
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="UTF-8">\n<title>EyeTagger</title>\n'
        '<script type="module" crossorigin src="/static/assets/index-Dq3bT9xk.js"></script>\n'
        '<link rel="stylesheet" crossorigin href="/static/assets/index-C7aLm2Qe.css">\n'
        '</head>\n<body><div id="app"></div></body>\n</html>\n'
    )
    return folder


def add_odd_image(folder: Path) -> None:
    pixels = np.array(PILImage.open(folder / "images" / "iris_01.png"))
    pixels.flat[0] ^= 0xFF  # a different file, so a different SHA-256
    PILImage.fromarray(pixels).save(folder / "images" / ODD_IMAGE)
    with (folder / "metadata.csv").open("a", encoding="utf-8") as csv:
        csv.write(f"{ODD_IMAGE},real,none\n")


@dataclass
class Stack:
    base: str  # https://127.0.0.1:PORT
    http_base: str
    replicas: list[str]  # http://127.0.0.1:PORT of each Gunicorn
    cert: Path
    dist: Path
    static_root: Path
    dataset_root: Path
    upload_root: Path  # DATASET_UPLOAD_ROOT, apart from the dataset root as in docker compose
    upload_temp: Path  # FILE_UPLOAD_TEMP_DIR
    data_dir: Path
    database_url: str
    web: list[Server]
    nginx: Server
    tmp: Path

    def session(self) -> requests.Session:
        session = requests.Session()
        session.trust_env = False  # REQUESTS_CA_BUNDLE would replace our certificate
        session.verify = str(self.cert)
        return session

    def clear_cache(self) -> None:
        with psycopg.connect(self.database_url, autocommit=True) as connection:
            connection.execute("DELETE FROM eyetagger_cache")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    require_commands("nginx", "openssl")
    tmp = tmp_path_factory.mktemp("topology")
    database_name = scratch_database_name("topology")
    database_url = create_database(database_name)
    servers: list[Server] = []
    try:
        dataset_root = tmp / "datasets"
        add_odd_image(copy_demo_dataset(dataset_root))
        upload_root, upload_temp = tmp / "uploads", tmp / "upload-temp"
        upload_root.mkdir()
        upload_temp.mkdir()
        dist = REPO / "dist" if (REPO / "dist" / "index.html").is_file() else make_stand_in_dist(tmp / "dist")
        static_root = tmp / "static"
        cert, key = tmp / "cert.pem", tmp / "key.pem"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True,
        )  # fmt: skip
        env = production_env(
            tmp,
            DATABASE_URL=database_url,
            DATASET_ROOT=dataset_root,
            DATASET_UPLOAD_ROOT=upload_root,
            FILE_UPLOAD_TEMP_DIR=upload_temp,
            STATIC_ROOT=static_root,
            SPA_DIST_DIR=dist,
            IMAGES_ACCEL_REDIRECT="/protected-datasets/",
            LOGIN_THROTTLE_RATE=f"{THROTTLE}/min",
            WEB_CONCURRENCY="2",
            GUNICORN_THREADS="2",
            PYTHON=str(VENV_BIN / "python"),
        )
        manage("collectstatic", "--no-input", "--verbosity", "0", env=env)

        # Replica A migrates on start (the entrypoint's job); B starts on the migrated database.
        ports = [free_port(), free_port()]
        entrypoint = [str(REPO / "deploy" / "docker-entrypoint.sh")]
        command = [str(VENV_BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py", "backend.wsgi"]
        for index, port in enumerate(ports):
            replica_env = {**env, "GUNICORN_BIND": f"{LOCALHOST}:{port}"}
            if index > 0:
                replica_env["MIGRATE_ON_START"] = "false"
            server = Server(entrypoint + command, env=replica_env, log=tmp / f"gunicorn-{index}.log")
            servers.append(server)
            wait_for_port(port, server.process, timeout=120)
        manage(
            "import_dataset", str(dataset_root / "demo"), "--name", "Demo irises", "--question",
            "Is this image real or fake?", "--choices", "real,fake", "--require", "choice,mask", env=env,
        )  # fmt: skip
        manage(
            "shell", "-c",
            "from backend.api import services; from backend.api.models import Role; "
            f"services.user_create(username={USERNAME!r}, password={PASSWORD!r}, role=Role.ANNOTATOR); "
            f"services.user_create(username={ADMIN_USERNAME!r}, password={ADMIN_PASSWORD!r}, role=Role.ADMIN, "
            "superuser=True)",
            env=env,
        )  # fmt: skip

        http_port, https_port = free_port(), free_port()
        nginx = start_nginx(
            tmp / "nginx",
            {
                "EYETAGGER_UPSTREAM": f"{LOCALHOST}:{ports[0]}",
                "NGINX_HTTP_PORT": f"{LOCALHOST}:{http_port}",
                "NGINX_HTTPS_PORT": f"{LOCALHOST}:{https_port}",
                "NGINX_TLS_CERTIFICATE": str(cert),
                "NGINX_TLS_CERTIFICATE_KEY": str(key),
                "NGINX_STATIC_ROOT": str(static_root),
                "NGINX_DATASET_ROOT": str(dataset_root),
                "NGINX_UPLOAD_ROOT": str(upload_root),
                "NGINX_RESOLVER": LOCALHOST,  # unused: the upstream is an address
            },
            [http_port, https_port],
        )
        servers.append(nginx)
        yield Stack(
            base=f"https://{LOCALHOST}:{https_port}",
            http_base=f"http://{LOCALHOST}:{http_port}",
            replicas=[f"http://{LOCALHOST}:{port}" for port in ports],
            cert=cert,
            dist=dist,
            static_root=static_root,
            dataset_root=dataset_root,
            upload_root=upload_root,
            upload_temp=upload_temp,
            data_dir=Path(env["DATA_DIR"]),
            database_url=database_url,
            web=servers[:2],
            nginx=nginx,
            tmp=tmp,
        )
    finally:
        for server in reversed(servers):
            server.stop()
        drop_database(database_name)


def sign_in(stack: Stack) -> requests.Session:
    """Sign in as the SPA does: get the CSRF cookie, then POST the credentials with the token."""
    return spa_sign_in(stack.session(), stack.base, USERNAME, PASSWORD)


@pytest.fixture(scope="module")
def session(stack) -> requests.Session:
    """A signed-in session, shared: every sign-in counts against the login rate limit."""
    return sign_in(stack)


def write_headers(stack: Stack, session: requests.Session) -> dict[str, str]:
    return spa_write_headers(session, stack.base)


def directives(policy: str) -> dict[str, list[str]]:
    """Return a Content-Security-Policy header as {directive: sources}."""
    return {name: sources for name, *sources in (part.split() for part in policy.split(";") if part.strip())}


def asset_urls(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/static/[^"]+)"', html)


def first_image(stack: Stack, session: requests.Session, path: str | None = None) -> dict:
    datasets = session.get(f"{stack.base}/api/datasets/", timeout=10).json()["results"]
    images = session.get(f"{stack.base}/api/images/?dataset={datasets[0]['id']}&page_size=100", timeout=10).json()
    return next(image for image in images["results"] if path is None or image["path"] == path)


def test_the_spa_index_loads_through_nginx_with_its_assets(stack):
    response = stack.session().get(f"{stack.base}/", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "no-cache" in response.headers["Cache-Control"]
    assert response.text == (stack.dist / "index.html").read_text()
    urls = asset_urls(response.text)
    assert any(url.endswith(".js") for url in urls), urls
    for url in urls:
        asset = stack.session().get(f"{stack.base}{url}", timeout=10)
        assert asset.status_code == 200, url
        assert asset.content == (stack.dist / url.removeprefix("/static/")).read_bytes()


def test_spa_routes_get_the_same_index(stack):
    response = stack.session().get(f"{stack.base}/datasets/1/annotate", timeout=10)
    assert response.status_code == 200
    assert response.text == (stack.dist / "index.html").read_text()


def test_pages_carry_the_content_security_policy_and_hsts(stack):
    headers = stack.session().get(f"{stack.base}/", timeout=10).headers
    policy = directives(headers["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert "'unsafe-eval'" not in sum(policy.values(), [])
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_hashed_assets_are_cached_for_a_year(stack):
    for url in asset_urls((stack.dist / "index.html").read_text()):
        headers = stack.session().get(f"{stack.base}{url}", timeout=10).headers
        assert headers["Cache-Control"] == "public, max-age=31536000, immutable", url


def test_django_static_files_are_cached_for_a_year_by_hashed_name_and_an_hour_by_plain_name(stack):
    manifest = json.loads((stack.static_root / "staticfiles.json").read_text())["paths"]
    hashed = stack.session().get(f"{stack.base}/static/{manifest['admin/css/base.css']}", timeout=10)
    plain = stack.session().get(f"{stack.base}/static/admin/css/base.css", timeout=10)
    assert hashed.status_code == plain.status_code == 200
    assert hashed.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert plain.headers["Cache-Control"] == "public, max-age=3600"


def test_static_files_are_sent_compressed_to_browsers_that_accept_it(stack):
    url = next(url for url in asset_urls((stack.dist / "index.html").read_text()) if url.endswith(".js"))
    response = stack.session().get(f"{stack.base}{url}", headers={"Accept-Encoding": "gzip"}, timeout=10)
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.content == (stack.dist / url.removeprefix("/static/")).read_bytes()


def test_static_files_never_reach_django(stack):
    session = stack.session()
    for url in asset_urls((stack.dist / "index.html").read_text()):
        assert session.get(f"{stack.base}{url}", timeout=10).status_code == 200
    assert session.get(f"{stack.base}/static/admin/css/base.css", timeout=10).status_code == 200
    assert session.get(f"{stack.base}/api/health/?marker=static-test", timeout=10).status_code == 200
    # Gunicorn logs a request just after answering it: wait for the marker, which came last.
    deadline = time.monotonic() + 10
    while "/api/health/?marker=static-test" not in (logs := "".join(server.output() for server in stack.web)):
        assert time.monotonic() < deadline, "Gunicorn's access log does not record what reaches Django"
        time.sleep(0.1)
    assert "GET /static/" not in logs


def test_a_user_signs_in_and_saves_an_annotation(stack):
    session = sign_in(stack)
    me = session.get(f"{stack.base}/api/auth/me/", timeout=10).json()
    assert me["username"] == USERNAME
    cookies = {cookie.name: cookie for cookie in session.cookies}
    assert cookies["sessionid"].secure and cookies["sessionid"].has_nonstandard_attr("HttpOnly")
    assert cookies["csrftoken"].secure

    image = first_image(stack, session)
    document = {
        "strokes": [{"tool": "brush", "width": 8.0, "points": [[20.0, 30.0, 0.0, 0.5], [60.5, 44.25, 16.0, 0.5]]}],
        "label": "fake",
        "text": "printed texture",
        "status": "submitted",
        "version": 0,
    }
    url = f"{stack.base}/api/images/{image['id']}/annotation/"
    saved = session.put(url, json=document, headers=write_headers(stack, session), timeout=10)
    assert saved.status_code == 201, saved.text
    stored = session.get(url, timeout=10).json()
    assert (stored["strokes"], stored["label"], stored["text"], stored["version"]) == (
        document["strokes"],
        "fake",
        "printed texture",
        1,
    )


def test_a_write_without_the_csrf_token_is_refused_through_the_proxy(stack, session):
    image = first_image(stack, session)
    document = {"strokes": [], "label": None, "text": "", "status": "draft", "version": 0}
    response = session.put(
        f"{stack.base}/api/images/{image['id']}/annotation/",
        json=document,
        headers={"Origin": stack.base, "Referer": f"{stack.base}/"},
        timeout=10,
    )
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_a_dataset_image_needs_a_session(stack, session):
    image = first_image(stack, session)
    anonymous = stack.session().get(f"{stack.base}/api/images/{image['id']}/file/", timeout=10)
    assert anonymous.status_code in (401, 403)
    assert anonymous.content != (stack.dataset_root / "demo" / image["path"]).read_bytes()


def test_a_dataset_image_is_sent_by_nginx_after_django_authorizes_it(stack, session):
    image = first_image(stack, session)
    response = session.get(f"{stack.base}/api/images/{image['id']}/file/", timeout=10)
    assert response.status_code == 200
    # Django answered with an empty body and X-Accel-Redirect; only Nginx can have sent the bytes.
    assert response.content == (stack.dataset_root / "demo" / image["path"]).read_bytes()
    assert "X-Accel-Redirect" not in response.headers
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["ETag"] == f'"{image["sha256"]}"'
    assert "private" in response.headers["Cache-Control"]
    revalidated = session.get(
        f"{stack.base}/api/images/{image['id']}/file/", headers={"If-None-Match": response.headers["ETag"]}, timeout=10
    )
    assert revalidated.status_code == 304


def test_an_image_whose_name_has_a_space_and_an_accent_is_served(stack, session):
    image = first_image(stack, session, path=f"images/{ODD_IMAGE}")
    response = session.get(f"{stack.base}/api/images/{image['id']}/file/", timeout=10)
    assert response.status_code == 200
    assert hashlib.sha256(response.content).hexdigest() == image["sha256"]


def test_the_internal_image_location_cannot_be_fetched_directly(stack, session):
    response = session.get(f"{stack.base}/protected-datasets/demo/images/iris_01.png", timeout=10)
    assert response.status_code == 404
    assert not response.headers["Content-Type"].startswith("image/")


def test_plain_http_redirects_to_https(stack):
    response = requests.get(f"{stack.http_base}/api/datasets/?x=1", allow_redirects=False, timeout=10)
    assert response.status_code == 301
    assert response.headers["Location"] == f"https://{LOCALHOST}/api/datasets/?x=1"


def test_health_answers_through_nginx(stack):
    response = stack.session().get(f"{stack.base}/api/health/", timeout=10)
    assert (response.status_code, response.json()) == (200, {"status": "ok", "database": "ok"})
    assert requests.get(f"{stack.http_base}/nginx-health", timeout=10).text == "ok\n"


def test_the_docker_healthcheck_script_passes_against_gunicorn(stack):
    port = stack.replicas[0].rsplit(":", 1)[1]
    env = {"ALLOWED_HOSTS": "localhost,127.0.0.1", "HEALTHCHECK_PORT": port, "PATH": "/usr/bin:/bin"}
    ok = subprocess.run([str(VENV_BIN / "python"), "deploy/healthcheck.py"], cwd=REPO, env=env, timeout=30)
    env["HEALTHCHECK_PORT"] = str(free_port())
    down = subprocess.run([str(VENV_BIN / "python"), "deploy/healthcheck.py"], cwd=REPO, env=env, timeout=30)
    assert (ok.returncode, down.returncode) == (0, 1)


def test_an_oversized_request_body_gets_a_json_413_from_nginx(stack):
    response = stack.session().post(
        f"{stack.base}/api/auth/token/login/",
        data=b"x" * (33 * 1024 * 1024),
        headers={"Content-Type": "application/json"},
        timeout=60,
    )
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"


@pytest.fixture
def fresh_throttle(stack):
    stack.clear_cache()
    yield
    stack.clear_cache()


def test_the_login_limit_holds_across_gunicorn_replicas(stack, fresh_throttle):
    """Wrong passwords alternate between the two replicas: the limit counts them all together."""
    statuses = []
    for attempt in range(THROTTLE + 2):
        replica = stack.replicas[attempt % 2]
        response = requests.post(
            f"{replica}/api/auth/token/login/",
            json={"username": USERNAME, "password": "wrong"},
            headers={"X-Forwarded-Proto": "https", "Host": LOCALHOST},
            timeout=10,
        )
        statuses.append(response.status_code)
    assert 429 not in statuses[:THROTTLE], statuses
    assert statuses[THROTTLE:] == [429, 429], statuses


def test_the_login_limit_counts_the_client_address_nginx_saw(stack, fresh_throttle):
    """Through Nginx a forged X-Forwarded-For changes nothing; each real client has its own count."""
    session = stack.session()
    for _ in range(THROTTLE):
        session.post(f"{stack.base}/api/auth/token/login/", json={"username": USERNAME, "password": "x"}, timeout=10)
    forged = session.post(
        f"{stack.base}/api/auth/token/login/",
        json={"username": USERNAME, "password": PASSWORD},
        headers={"X-Forwarded-For": "198.51.100.23"},
        timeout=10,
    )
    assert forged.status_code == 429
    # Another client (as Nginx would report it) still signs in.
    other = requests.post(
        f"{stack.replicas[1]}/api/auth/token/login/",
        json={"username": USERNAME, "password": PASSWORD},
        headers={"X-Forwarded-Proto": "https", "Host": LOCALHOST, "X-Forwarded-For": "203.0.113.7"},
        timeout=10,
    )
    assert other.status_code == 200


def test_nginx_answers_a_json_503_while_gunicorn_is_down(stack, tmp_path):
    http_port, https_port = free_port(), free_port()
    nginx = start_nginx(
        tmp_path / "nginx",
        {
            "EYETAGGER_UPSTREAM": f"{LOCALHOST}:{free_port()}",  # nothing listens there
            "NGINX_HTTP_PORT": f"{LOCALHOST}:{http_port}",
            "NGINX_HTTPS_PORT": f"{LOCALHOST}:{https_port}",
            "NGINX_TLS_CERTIFICATE": str(stack.cert),
            "NGINX_TLS_CERTIFICATE_KEY": str(stack.tmp / "key.pem"),
            "NGINX_STATIC_ROOT": str(stack.static_root),
            "NGINX_DATASET_ROOT": str(stack.dataset_root),
            "NGINX_UPLOAD_ROOT": str(stack.upload_root),
            "NGINX_RESOLVER": LOCALHOST,
        },
        [http_port, https_port],
    )
    try:
        response = stack.session().get(f"https://{LOCALHOST}:{https_port}/api/health/", timeout=10)
    finally:
        nginx.stop()
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json()["code"] == "unavailable"


CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--ignore-certificate-errors",
    "--enable-logging=stderr",
    "--v=0",
    "--virtual-time-budget=15000",
    "--dump-dom",
]


def chromium_dom(url: str, profile: Path) -> tuple[str, str]:
    """Load url in headless Chromium; return the DOM after scripts ran, and the console log."""
    chromium = shutil.which("chromium", path=base_env()["PATH"]) or "chromium"
    result = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", url],
        capture_output=True,
        text=True,
        timeout=90,
    )
    return result.stdout, result.stderr


def csp_violations(console: str) -> list[str]:
    return [line for line in console.splitlines() if "Content Security Policy" in line or "Refused to" in line]


@pytest.mark.parametrize(
    ("path", "rendered"),
    [
        ("/api/docs/", 'class="opblock'),  # Swagger UI fetched the schema and drew the operations
        ("/api/admin/login/", 'id="login-form"'),
    ],
)
def test_swagger_ui_and_django_admin_work_under_the_content_security_policy(stack, tmp_path, path, rendered):
    require_commands("chromium")
    dom, console = chromium_dom(f"{stack.base}{path}", tmp_path / "profile")
    assert not csp_violations(console), csp_violations(console)
    assert rendered in dom


def test_the_spa_runs_under_the_content_security_policy(stack, tmp_path):
    require_commands("chromium")
    dom, console = chromium_dom(f"{stack.base}/", tmp_path / "profile")
    assert not csp_violations(console), csp_violations(console)
    # The scripts ran: the page's body is no longer the bare index.html's.
    assert body_of(dom) and body_of(dom) != body_of((stack.dist / "index.html").read_text())


def body_of(html: str) -> str:
    match = re.search(r"<body[^>]*>(.*)</body>", html, re.DOTALL)
    return re.sub(r"\s+", "", match.group(1)) if match else ""


def test_the_web_tier_writes_no_files(stack, session):
    assert session.get(f"{stack.base}/api/datasets/", timeout=10).status_code == 200
    assert list(stack.data_dir.iterdir()) == []


def sign_in_to_admin(stack: Stack) -> requests.Session:
    """Sign in on Django admin's page, as a browser does: its form with the CSRF token."""
    session = stack.session()
    page = session.get(f"{stack.base}/api/admin/login/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    response = session.post(
        f"{stack.base}/api/admin/login/?next=/api/admin/",
        data={"csrfmiddlewaretoken": token, "username": ADMIN_USERNAME, "password": ADMIN_PASSWORD},
        headers={"Referer": f"{stack.base}/api/admin/login/"},
        timeout=10,
    )
    assert response.status_code == 200 and "Log out" in response.text, response.text[:500]
    return session


def zipped_demo(stack: Stack) -> bytes:
    """Return a zip of the demo dataset with one more, larger image, so the upload is spooled to disk."""
    buffer = io.BytesIO()
    noise = np.random.default_rng(7).integers(0, 256, size=(1200, 1000, 3), dtype=np.uint8)
    extra = io.BytesIO()
    PILImage.fromarray(noise).save(extra, format="PNG")  # about 3.6 MB: past FILE_UPLOAD_MAX_MEMORY_SIZE
    folder = stack.dataset_root / "demo"
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.name != "metadata.csv":
                archive.write(path, f"demo/{path.relative_to(folder).as_posix()}")
        archive.writestr("demo/images/noise.png", extra.getvalue())
        csv_text = (folder / "metadata.csv").read_text(encoding="utf-8") + "noise.png,fake,none\n"
        archive.writestr("demo/metadata.csv", csv_text)
    return buffer.getvalue()


def test_a_dataset_zip_uploaded_in_admin_is_served_by_nginx_from_the_upload_folder(stack, session):
    admin = sign_in_to_admin(stack)
    page = admin.get(f"{stack.base}/api/admin/api/dataset/import/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    form = {
        "csrfmiddlewaretoken": token,
        "name": "Uploaded irises",
        "question": "Real or fake?",
        "choices": "real, fake",
        "require_choice": "on",
        "order": "random",
        "access": "all",
        "lease_minutes": "30",
    }
    response = admin.post(
        f"{stack.base}/api/admin/api/dataset/import/",
        data=form,
        files={"archive": ("irises.zip", zipped_demo(stack), "application/zip")},
        headers={"Referer": f"{stack.base}/api/admin/api/dataset/import/"},
        timeout=120,
    )
    assert response.status_code == 200 and "14 added" in response.text, response.text[-3000:]
    assert (stack.upload_root / "uploaded-irises" / "images" / "noise.png").is_file()
    # The spooled upload is removed as the request is closed, just after the response is sent.
    deadline = time.monotonic() + 10
    while list(stack.upload_temp.iterdir()):
        assert time.monotonic() < deadline, f"left in FILE_UPLOAD_TEMP_DIR: {list(stack.upload_temp.iterdir())}"
        time.sleep(0.1)
    assert not (stack.dataset_root / "uploads").exists()

    datasets = session.get(f"{stack.base}/api/datasets/", timeout=10).json()["results"]
    uploaded = next(dataset for dataset in datasets if dataset["name"] == "Uploaded irises")
    images = session.get(f"{stack.base}/api/images/?dataset={uploaded['id']}&page_size=100", timeout=10).json()
    image = next(image for image in images["results"] if image["path"] == "images/noise.png")
    served = session.get(f"{stack.base}/api/images/{image['id']}/file/", timeout=10)
    # Django answered with X-Accel-Redirect to /protected-datasets/uploads/...; Nginx sent the file.
    assert served.status_code == 200 and served.headers["Content-Type"] == "image/png"
    assert served.content == (stack.upload_root / "uploaded-irises" / "images" / "noise.png").read_bytes()
    assert "X-Accel-Redirect" not in served.headers
