"""Image files on S3-compatible object storage (DATASETS_S3_BUCKET), against moto's S3 server on 127.0.0.1."""

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import boto3
import pytest

from backend.api.models import Role

BUCKET = "eyetagger-datasets"
PREFIX = "lab"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def _free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint():
    """Run moto's S3 server on 127.0.0.1 for this module, and stop it afterwards."""
    port = _free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(15)


def _storage(endpoint: str) -> dict:
    from botocore.config import Config

    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": BUCKET,
            "location": PREFIX,
            "endpoint_url": endpoint,
            "default_acl": None,
            "file_overwrite": False,
            "client_config": Config(connect_timeout=1, read_timeout=5, retries={"max_attempts": 1}),
        },
    }


@pytest.fixture
def bucket(s3_endpoint, monkeypatch, settings, demo_dataset, dataset_root):
    """Put the demo dataset's files in the bucket, as `aws s3 sync` would, and delete them from disk."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    s3.create_bucket(Bucket=BUCKET)
    uploaded = {}
    for image in demo_dataset.images.all():
        path = dataset_root / demo_dataset.root / image.path
        key = f"{PREFIX}/{demo_dataset.root}/{image.path}"
        s3.put_object(Bucket=BUCKET, Key=key, Body=path.read_bytes())
        uploaded[image.pk] = (key, path.read_bytes())
        path.unlink()  # only the bucket has it now
    settings.STORAGES = {**settings.STORAGES, "datasets": _storage(s3_endpoint)}
    settings.IMAGES_ACCEL_REDIRECT = "/protected-datasets/"  # object storage takes precedence
    yield s3, uploaded
    for key, _ in uploaded.values():
        s3.delete_object(Bucket=BUCKET, Key=key)
    s3.delete_bucket(Bucket=BUCKET)


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_an_image_is_read_from_the_bucket(bucket, image, make_user, client_for):
    _, uploaded = bucket
    response = client_for(make_user(Role.ANNOTATOR)).get(f"/api/images/{image.pk}/file/")
    assert response.status_code == 200
    assert _body(response) == uploaded[image.pk][1]
    assert response["Content-Type"] == "image/png"
    assert response["ETag"] == f'"{image.sha256}"'
    assert "X-Accel-Redirect" not in response


def test_a_missing_object_is_a_404_naming_the_image(bucket, image, make_user, client_for):
    s3, uploaded = bucket
    s3.delete_object(Bucket=BUCKET, Key=uploaded[image.pk][0])
    response = client_for(make_user(Role.ANNOTATOR)).get(f"/api/images/{image.pk}/file/")
    assert response.status_code == 404
    assert image.path in response.json()["detail"]


def test_an_unreachable_store_is_a_503_not_a_500(bucket, image, make_user, client_for, settings):
    closed = f"http://127.0.0.1:{_free_port()}"
    settings.STORAGES = {**settings.STORAGES, "datasets": _storage(closed)}
    response = client_for(make_user(Role.ANNOTATOR)).get(f"/api/images/{image.pk}/file/")
    assert response.status_code == 503
    assert response.json()["code"] == "image_store_unavailable"


def test_anonymous_requests_never_reach_the_bucket(bucket, image, client_for):
    assert client_for(None).get(f"/api/images/{image.pk}/file/").status_code == 401


def test_a_revalidation_is_answered_without_reading_the_bucket(bucket, image, make_user, client_for):
    s3, uploaded = bucket
    s3.delete_object(Bucket=BUCKET, Key=uploaded[image.pk][0])
    response = client_for(make_user(Role.ANNOTATOR)).get(
        f"/api/images/{image.pk}/file/", HTTP_IF_NONE_MATCH=f'"{image.sha256}"'
    )
    assert response.status_code == 304
