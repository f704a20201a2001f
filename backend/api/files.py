"""Where dataset image files are stored, and reading them: no HTTP here (views serve them, having checked who asks).

Three ways, by configuration: from DATASET_ROOT (and DATASET_UPLOAD_ROOT, for uploaded
datasets) by Django; from there by Nginx after Django has authorized the request
(IMAGES_ACCEL_REDIRECT, see ``accel_location``); or from object storage through Django's
storage API (DATASETS_S3_BUCKET, the ``datasets`` storage), for web replicas that share no disk.

Failures are this module's own exceptions: ``ImageFileMissing`` and ``ImageStoreUnavailable``.
The API's error handler answers them 404 and 503; admin draws a placeholder instead.
"""

import io
import logging
import os
import posixpath
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

from django.conf import settings
from django.core.files.storage import storages
from PIL import Image as PILImage
from PIL import UnidentifiedImageError

from . import display_copies
from .models import Image, ImageAttachment

logger = logging.getLogger(__name__)

DATASETS_STORAGE = "datasets"


class ImageFileMissing(Exception):
    """The image's file is missing, cannot be read, or lies outside its dataset's folder: an admin must look."""


class ImageStoreUnavailable(Exception):
    """The object store holding the image files does not answer (unreachable, bad credentials): it may pass."""

    def __init__(self, message: str = "The image store is not answering; try again in a moment."):
        super().__init__(message)


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
        raise ImageFileMissing("This image's path lies outside its dataset folder; an admin must fix the dataset.")
    return Path(path)


def image_storage_name(image: Image | ImageAttachment) -> str:
    """Return the file's name in the datasets storage (``<dataset folder>/<path>``), refusing escapes."""
    folder = posixpath.normpath(_dataset_of(image).root)
    name = posixpath.normpath(posixpath.join(folder, image.path))
    if folder.startswith(("/", "..")) or not name.startswith(folder + "/"):
        raise ImageFileMissing("This image's path lies outside its dataset folder; an admin must fix the dataset.")
    return name


def _dataset_of(file: Image | ImageAttachment):
    """Return the dataset a file belongs to: an image's, or the image's of an attachment."""
    return file.image.dataset if isinstance(file, ImageAttachment) else file.dataset


def uses_object_storage() -> bool:
    """Return whether image files live in the ``datasets`` storage rather than below DATASET_ROOT."""
    return DATASETS_STORAGE in settings.STORAGES


def image_open(image: Image | ImageAttachment) -> BinaryIO:
    """Open the image's (or an attachment's) file for reading, wherever it is stored.

    Raise ImageFileMissing if it is missing or cannot be read, ImageStoreUnavailable if the
    object store does not answer.
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
    """Turn the failures of reading an image's (or attachment's) file into ImageFileMissing or ImageStoreUnavailable."""
    if not uses_object_storage():
        try:
            yield
        except FileNotFoundError:
            raise ImageFileMissing(_missing(image)) from None
        except OSError as error:  # a folder in its place, no permission: an admin must look
            logger.error("Reading the file of %s failed: %s", _label(image), error)
            message = f"The file of {_label(image)} ({image.path}) cannot be read on the server."
            raise ImageFileMissing(message) from None
        return
    # Only needed, and installed, for object storage.
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except FileNotFoundError:
        raise ImageFileMissing(_missing(image)) from None
    except (BotoCoreError, ClientError, Boto3Error) as error:  # unreachable endpoint, bad credentials, no such bucket
        logger.error("Reading %s from object storage failed: %s", _label(image), error)
        raise ImageStoreUnavailable() from error


def _missing(image: Image | ImageAttachment) -> str:
    return f"The file of {_label(image)} ({image.path}) is missing on the server."


def _label(file: Image | ImageAttachment) -> str:
    if isinstance(file, ImageAttachment):
        return f"the {file.get_kind_display()} of image {file.image_id}"
    return f"image {file.pk}"


def display_copy_root() -> Path:
    """Return the folder keeping display copies: DISPLAY_COPY_ROOT, or .display-copies in the upload folder."""
    return Path(settings.DISPLAY_COPY_ROOT or dataset_upload_root() / ".display-copies")


def display_copy(image: Image | ImageAttachment) -> bytes | None:
    """Return the PNG browsers are shown instead of the file (``display_copies``), or None to show the file itself.

    Decided and made once per file content (its SHA-256): the copy, or an empty ``.plain``
    marker for a file shown as stored, is kept in ``display_copy_root()``; later requests cost
    a look there. A folder that cannot be written only loses the keeping. Errors reading the
    file are ``image_open``'s.
    """
    folder = display_copy_root() / image.sha256[:2]
    png, plain = folder / f"{image.sha256}.png", folder / f"{image.sha256}.plain"
    if plain.exists():
        return None
    try:
        return png.read_bytes()
    except OSError:  # not made yet, or the folder cannot be had: made (again) below
        pass
    content = image_read(image)
    try:
        with PILImage.open(io.BytesIO(content)) as picture:
            needed = display_copies.needs_display_copy(picture)
    except (UnidentifiedImageError, OSError):  # replaced since the import by something unreadable: sent as it is
        return None
    copy = display_copies.display_png(content) if needed else None
    _keep(png if needed else plain, copy or b"")
    return copy


def _keep(path: Path, content: bytes) -> None:
    """Write the file whole or not at all (workers may race to write the same one: the last rename wins)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".part", delete=False) as part:
            part.write(content)
        os.replace(part.name, path)
    except OSError as error:  # read-only or full: the copy is made again next time
        logger.warning("Cannot keep the display copy %s: %s", path, error)


def accel_location(image: Image | ImageAttachment) -> str | None:
    """Return the internal location Nginx sends the file from (IMAGES_ACCEL_REDIRECT), or None.

    None when Django sends the file itself: no IMAGES_ACCEL_REDIRECT, or object storage (which
    takes precedence over it).
    """
    if not settings.IMAGES_ACCEL_REDIRECT or uses_object_storage():
        return None
    return f"{settings.IMAGES_ACCEL_REDIRECT.rstrip('/')}/{quote(_dataset_of(image).root)}/{quote(image.path)}"
