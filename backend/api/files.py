"""Serving dataset image files: only through views that have checked who is asking.

Three ways, by configuration: from DATASET_ROOT (and DATASET_UPLOAD_ROOT, for uploaded
datasets) by Django; from there by Nginx after Django has authorized the request
(IMAGES_ACCEL_REDIRECT); or from object storage through Django's storage API
(DATASETS_S3_BUCKET, the ``datasets`` storage), for web replicas that share no disk.
"""

import logging
import mimetypes
import os
import posixpath
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

from django.conf import settings
from django.core.files.storage import storages
from django.http import FileResponse, HttpResponse, HttpResponseNotModified
from django.utils.cache import patch_cache_control
from rest_framework import status
from rest_framework.exceptions import APIException, NotFound

from .models import Image, ImageAttachment

logger = logging.getLogger(__name__)

DATASETS_STORAGE = "datasets"


class ImageStoreUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "image_store_unavailable"
    default_detail = "The image store is not answering; try again in a moment."


UPLOADS = "uploads"  # the first part of an uploaded dataset's root: uploads/<name>


def dataset_upload_root() -> Path:
    """Return the folder where uploaded dataset archives are unpacked: DATASET_UPLOAD_ROOT, or DATASET_ROOT/uploads."""
    return Path(settings.DATASET_UPLOAD_ROOT or Path(settings.DATASET_ROOT) / UPLOADS)


def dataset_folder(root: str) -> Path:
    """Return the local folder of a dataset's root.

    An uploaded dataset's root is ``uploads/<name>``, its folder ``<name>`` in DATASET_UPLOAD_ROOT
    (which is DATASET_ROOT/uploads unless set elsewhere, e.g. to a writable volume); any other
    root is a folder below DATASET_ROOT. Nginx maps its internal location the same way.
    """
    first, _, rest = root.partition("/")
    if first == UPLOADS and rest:
        return dataset_upload_root() / rest
    return Path(settings.DATASET_ROOT) / root


def image_path(image: Image | ImageAttachment) -> Path:
    """Return where an image's (or an attachment's) file lies, refusing any path that escapes its dataset's folder."""
    folder = os.path.abspath(dataset_folder(_dataset_of(image).root))
    path = os.path.abspath(os.path.join(folder, image.path))
    if not path.startswith(folder + os.sep):
        raise NotFound("This image's path lies outside its dataset folder; an admin must fix the dataset.")
    return Path(path)


def image_storage_name(image: Image | ImageAttachment) -> str:
    """Return the file's name in the datasets storage (``<dataset folder>/<path>``), refusing escapes."""
    folder = posixpath.normpath(_dataset_of(image).root)
    name = posixpath.normpath(posixpath.join(folder, image.path))
    if folder.startswith(("/", "..")) or not name.startswith(folder + "/"):
        raise NotFound("This image's path lies outside its dataset folder; an admin must fix the dataset.")
    return name


def _dataset_of(file: Image | ImageAttachment):
    """Return the dataset a file belongs to: an image's, or the image's of an attachment."""
    return file.image.dataset if isinstance(file, ImageAttachment) else file.dataset


def uses_object_storage() -> bool:
    """Return whether image files live in the ``datasets`` storage rather than below DATASET_ROOT."""
    return DATASETS_STORAGE in settings.STORAGES


def image_open(image: Image | ImageAttachment) -> BinaryIO:
    """Open the image's (or an attachment's) file for reading, wherever it is stored.

    Raise NotFound if it is missing or cannot be read, ImageStoreUnavailable if the object
    store does not answer.
    """
    with _reading(image):
        if not uses_object_storage():
            return image_path(image).open("rb")
        return storages[DATASETS_STORAGE].open(image_storage_name(image), "rb")


def image_read(image: Image | ImageAttachment) -> bytes:
    """Return the bytes of the image's file, wherever it is stored; errors as ``image_open``.

    For code that decodes the picture (overlays, thumbnails): an object is downloaded as it
    is read, so a store failing halfway is reported here too, not as a server error later.
    """
    with image_open(image) as file, _reading(image):
        return file.read()


@contextmanager
def _reading(image: Image | ImageAttachment):
    """Turn the failures of reading an image's file into NotFound (404) or ImageStoreUnavailable (503)."""
    if not uses_object_storage():
        try:
            yield
        except FileNotFoundError:
            raise NotFound(_missing(image)) from None
        except OSError as error:  # a folder in its place, no permission: an admin must look
            logger.error("Reading the file of %s failed: %s", _label(image), error)
            raise NotFound(f"The file of {_label(image)} ({image.path}) cannot be read on the server.") from None
        return
    # Only needed, and installed, for object storage.
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except FileNotFoundError:
        raise NotFound(_missing(image)) from None
    except (BotoCoreError, ClientError, Boto3Error) as error:  # unreachable endpoint, bad credentials, no such bucket
        logger.error("Reading %s from object storage failed: %s", _label(image), error)
        raise ImageStoreUnavailable() from error


def _missing(image: Image | ImageAttachment) -> str:
    return f"The file of {_label(image)} ({image.path}) is missing on the server."


def _label(file: Image | ImageAttachment) -> str:
    if isinstance(file, ImageAttachment):
        return f"the {file.get_kind_display()} of image {file.image_id}"
    return f"image {file.pk}"


def image_file_response(request, image: Image | ImageAttachment) -> HttpResponse:
    """Return the image's (or an attachment's) bytes, privately cacheable and revalidated by their SHA-256.

    With IMAGES_ACCEL_REDIRECT set (behind Nginx), Django only authorizes and Nginx
    sends the file from its internal location; object storage takes precedence over it.
    """
    etag = f'"{image.sha256}"'
    if etag in request.headers.get("If-None-Match", ""):
        response = HttpResponseNotModified()
    elif settings.IMAGES_ACCEL_REDIRECT and not uses_object_storage():
        response = HttpResponse(content_type=_content_type(image.path))
        location = f"{settings.IMAGES_ACCEL_REDIRECT.rstrip('/')}/{quote(_dataset_of(image).root)}/{quote(image.path)}"
        response["X-Accel-Redirect"] = location
    else:
        response = FileResponse(image_open(image), content_type=_content_type(image.path))
    response["ETag"] = etag
    # Biometric images: never in shared caches; browsers keep them a day and revalidate by ETag.
    patch_cache_control(response, private=True, max_age=86400)
    return response


def _content_type(path: str) -> str:
    return mimetypes.guess_type(path)[0] or "application/octet-stream"
