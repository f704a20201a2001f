"""Image files on S3-compatible object storage (DATASETS_S3_BUCKET), against moto's S3 server on 127.0.0.1.

Everything that reads an image's file reads it from the bucket: the file itself, the saliency
overlay, admin's thumbnails and mask overlays.
"""

import io
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import boto3
import numpy as np
import pytest
from PIL import Image as PILImage

from backend.api import importing, services, strokes, thumbnails
from backend.api.models import AnnotationRevision, Dataset, Role

from .conftest import brush, write_dataset
from .test_dataset_upload import zipped

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
    for key in _keys(s3):
        s3.delete_object(Bucket=BUCKET, Key=key)
    s3.delete_bucket(Bucket=BUCKET)


def _keys(s3, prefix: str = "") -> list[str]:
    return sorted(item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []))


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


# --- Pictures made from the image: the saliency overlay, admin's thumbnails and mask overlays --------------


def _annotate(image, annotator, strokes_, version=0, status="submitted"):
    annotation, _ = services.annotation_save(
        image=image,
        annotator=annotator,
        content=services.AnnotationContent(strokes_, "real", "", status),
        base_version=version,
    )
    return annotation


def _pixels(content: bytes) -> np.ndarray:
    return np.asarray(PILImage.open(io.BytesIO(content)).convert("RGB"))


def test_the_saliency_overlay_is_drawn_over_the_image_in_the_bucket(bucket, image, make_user, client_for):
    _, uploaded = bucket
    _annotate(image, make_user(Role.ANNOTATOR), [brush([(2, 2), (8, 2)], width=4)])
    response = client_for(make_user(Role.RESEARCHER)).get(f"/api/images/{image.pk}/saliency-overlay.png")
    assert response.status_code == 200, response.content[:300]
    overlay = _pixels(response.content)
    grey = np.asarray(PILImage.open(io.BytesIO(uploaded[image.pk][1])).convert("L"), dtype=np.float64)
    dimmed = np.repeat(np.rint(grey * 0.5).astype(np.uint8)[..., None], 3, axis=-1)
    assert overlay.shape == (48, 64, 3)
    assert (overlay[20:, 20:] == dimmed[20:, 20:]).all()  # nobody drew there: the image from the bucket, dimmed
    assert not (overlay[0:5, 0:10] == dimmed[0:5, 0:10]).all()


def test_a_missing_object_makes_the_overlay_a_404_and_a_silent_store_a_503(
    bucket, image, make_user, client_for, settings
):
    s3, uploaded = bucket
    researcher = client_for(make_user(Role.RESEARCHER))
    s3.delete_object(Bucket=BUCKET, Key=uploaded[image.pk][0])
    missing = researcher.get(f"/api/images/{image.pk}/saliency-overlay.png")
    assert missing.status_code == 404 and "missing on the server" in missing.json()["detail"]
    settings.STORAGES = {**settings.STORAGES, "datasets": _storage(f"http://127.0.0.1:{_free_port()}")}
    silent = researcher.get(f"/api/images/{image.pk}/saliency-overlay.png")
    assert silent.status_code == 503 and silent.json()["code"] == "image_store_unavailable"


def test_admin_thumbnails_are_made_from_the_image_in_the_bucket(bucket, image, admin_client):
    _, uploaded = bucket
    response = admin_client.get(f"/api/admin/api/image/{image.pk}/thumbnail/?size=32")
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert response.content == thumbnails.image_thumbnail(uploaded[image.pk][1], 32)  # not a placeholder
    assert "private" in response["Cache-Control"] and response["ETag"]


def test_admin_mask_overlays_are_drawn_over_the_image_in_the_bucket(bucket, image, admin_client, make_user):
    _, uploaded = bucket
    first = [brush([(0, 0), (64, 48)], width=20)]
    annotation = _annotate(image, make_user(Role.ANNOTATOR), first, status="draft")
    annotation = _annotate(image, annotation.annotator, [brush([(5, 5)])], version=annotation.version)
    revision = AnnotationRevision.objects.get(annotation=annotation)
    content = uploaded[image.pk][1]
    current = admin_client.get(f"/api/admin/api/annotation/{annotation.pk}/overlay/?size=64")
    assert current.status_code == 200 and current["Content-Type"] == "image/png"
    mask = thumbnails.decode_mask(annotation.mask_rle, image.width, image.height)
    assert current.content == thumbnails.mask_overlay(content, mask, 64)
    earlier = admin_client.get(f"/api/admin/api/annotationrevision/{revision.pk}/overlay/?size=64")
    assert earlier.content == thumbnails.mask_overlay(content, strokes.rasterize(first, 64, 48), 64)


def test_a_silent_store_gives_admin_an_uncached_placeholder_not_an_error(bucket, image, admin_client, settings):
    settings.STORAGES = {**settings.STORAGES, "datasets": _storage(f"http://127.0.0.1:{_free_port()}")}
    response = admin_client.get(f"/api/admin/api/image/{image.pk}/thumbnail/?size=64")
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert response.content == thumbnails.image_thumbnail(None, 64, absent="store not answering")
    assert "no-store" in response["Cache-Control"] and not response.has_header("ETag")


# --- A dataset zip uploaded in admin: its files go to the bucket, not the web tier's disk ---------------------


def _form(archive, **fields):
    archive.name = "irises.zip"
    return {
        "archive": archive,
        "name": "Uploaded irises",
        "choices": "real, fake",
        "require_choice": "on",
        "order": "random",
        "access": "all",
        "lease_minutes": "30",
        **fields,
    }


def test_an_uploaded_dataset_is_put_in_the_bucket_and_served_from_it(
    bucket, admin_client, tmp_path, settings, make_user, client_for
):
    s3, _ = bucket
    settings.DATASET_UPLOAD_ROOT = tmp_path / "upload-volume"
    source = write_dataset(tmp_path / "src")
    response = admin_client.post("/api/admin/api/dataset/import/", _form(zipped(source)))
    assert "3 added" in response.content.decode()
    dataset = Dataset.objects.get(root="uploads/uploaded-irises")
    # The key layout of the settings: <prefix>/<dataset root>/<image path>, metadata.csv too (as `aws s3 sync`).
    prefix = f"{PREFIX}/uploads/uploaded-irises/"
    assert _keys(s3, prefix) == [
        prefix + name for name in ("images/a.png", "images/b.png", "images/c.png", "metadata.csv")
    ]
    assert list((tmp_path / "upload-volume").iterdir()) == []  # the local copy is gone
    image = dataset.images.get(path="images/b.png")
    served = client_for(make_user(Role.ANNOTATOR)).get(f"/api/images/{image.pk}/file/")
    assert _body(served) == (source / "images" / "b.png").read_bytes()
    assert "X-Accel-Redirect" not in served


def test_a_silent_store_refuses_the_upload_on_the_form_and_nothing_is_stored(bucket, admin_client, tmp_path, settings):
    settings.DATASET_UPLOAD_ROOT = tmp_path / "upload-volume"
    settings.STORAGES = {**settings.STORAGES, "datasets": _storage(f"http://127.0.0.1:{_free_port()}")}
    response = admin_client.post("/api/admin/api/dataset/import/", _form(zipped(write_dataset(tmp_path / "src"))))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Nothing was imported" in body and "The object store did not accept the dataset" in body
    assert not Dataset.objects.filter(root__startswith="uploads/").exists()
    assert list((tmp_path / "upload-volume").iterdir()) == []


def test_an_import_failing_after_the_copy_removes_the_objects_it_put(bucket, tmp_path, settings):
    from django.core.exceptions import ValidationError

    s3, _ = bucket
    settings.DATASET_UPLOAD_ROOT = tmp_path / "upload-volume"
    archive = zipped(write_dataset(tmp_path / "src"))
    with pytest.raises(ValidationError, match="at most 9"):  # checked by the import, after the copy
        services.dataset_import_zip(archive=archive, name="Irises", choices=[str(n) for n in range(10)])
    assert _keys(s3, f"{PREFIX}/uploads/") == []
    assert list((tmp_path / "upload-volume").iterdir()) == []
    assert not Dataset.objects.filter(root__startswith="uploads/").exists()


def test_a_broken_metadata_csv_is_refused_before_anything_is_copied(bucket, tmp_path, settings, monkeypatch):
    s3, _ = bucket
    settings.DATASET_UPLOAD_ROOT = tmp_path / "upload-volume"
    archive = zipped(write_dataset(tmp_path / "src", csv_text="filename\na.png\na.png\n"))
    copied = []
    monkeypatch.setattr(
        "backend.api.services.uploads._copy_to_object_storage", lambda folder, root: copied.append(root) or []
    )
    with pytest.raises(importing.DatasetFolderInvalid, match="repeats the filename"):
        services.dataset_import_zip(archive=archive, name="Broken")
    assert copied == [] and _keys(s3, f"{PREFIX}/uploads/") == []


def test_a_name_taken_in_the_bucket_is_not_reused(bucket, tmp_path, settings):
    s3, _ = bucket
    settings.DATASET_UPLOAD_ROOT = tmp_path / "upload-volume"
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/uploads/irises/images/a.png", Body=b"synced by hand")
    report = services.dataset_import_zip(archive=zipped(write_dataset(tmp_path / "src")), name="Irises")
    assert report.dataset.root == "uploads/irises-2"
    assert s3.get_object(Bucket=BUCKET, Key=f"{PREFIX}/uploads/irises/images/a.png")["Body"].read() == b"synced by hand"


def test_a_copy_failing_halfway_removes_every_object_the_upload_put(bucket, tmp_path, settings, monkeypatch):
    from botocore.exceptions import EndpointConnectionError
    from storages.backends.s3 import S3Storage

    s3, _ = bucket
    settings.DATASET_UPLOAD_ROOT = tmp_path / "upload-volume"
    real_save = S3Storage.save

    def save_but_one(storage, name, content, **kwargs):
        if name.endswith("images/b.png"):
            real_save(storage, name, content, **kwargs)  # written, then the connection drops before the answer
            raise EndpointConnectionError(endpoint_url="http://store.example")
        return real_save(storage, name, content, **kwargs)

    monkeypatch.setattr(S3Storage, "save", save_but_one)
    with pytest.raises(services.DatasetUploadFailed, match="object store did not accept"):
        services.dataset_import_zip(archive=zipped(write_dataset(tmp_path / "src")), name="Irises")
    assert _keys(s3, f"{PREFIX}/uploads/") == []
    assert list((tmp_path / "upload-volume").iterdir()) == []
    assert not Dataset.objects.filter(root__startswith="uploads/").exists()
