"""Writes on datasets: importing an uploaded zip archive of a dataset folder.

The archive is unpacked into DATASET_UPLOAD_ROOT (a writable folder; DATASET_ROOT may be a
read-only mount) as ``<name>/``, and the dataset's root is ``uploads/<name>``. With object
storage, the unpacked folder is copied into the bucket under that root, as ``aws s3 sync``
would, before the import, and removed from the disk after it. Whatever fails, nothing is left
half-stored: no dataset rows, no unpacked folder, no objects.
"""

import logging
import shutil
import tempfile
import threading
import zipfile
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.core.files import File
from django.core.files.storage import storages
from django.utils.text import slugify

from .. import files, importing
from ..models import Dataset
from .datasets import ImportReport, dataset_import

logger = logging.getLogger(__name__)

# Objects are copied to the bucket this many at a time: a dataset is many small files, and
# each is a round trip to the store.
OBJECT_STORAGE_THREADS = 8


class DatasetUploadFailed(Exception):
    """The server could not store an uploaded dataset (a folder not writable or full, the object store silent)."""


def dataset_import_zip(*, archive: BinaryIO | Path, name: str, **options) -> ImportReport:
    """Unpack an archive of a dataset (``metadata.csv`` and ``images/``) into DATASET_UPLOAD_ROOT and import it.

    Every member is checked before anything is written (``importing.check_zip``): an archive
    with paths that try to escape its folder, links or special files is refused with a
    message naming them (DatasetFolderInvalid). The archive is unpacked into a new folder and
    imported through ``dataset_import``; with object storage its files go to the bucket first.
    A server that cannot store it (a read-only or full disk, an object store not answering)
    raises DatasetUploadFailed saying so. Whatever fails, nothing is stored.
    ``options`` are those of ``dataset_import``.
    """
    max_bytes = settings.DATASET_UPLOAD_MAX_BYTES
    try:
        bundle = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as error:  # not a zip, truncated, or unreadable
        raise importing.DatasetFolderInvalid(f"the file is not a readable zip archive ({error}).") from None
    with bundle:
        layout = importing.check_zip(bundle, max_bytes=max_bytes)
        folder = _unpack(bundle, layout, slugify(name) or "dataset", max_bytes=max_bytes)
    root = f"{files.UPLOADS}/{folder.name}"
    stored: list[str] = []
    try:
        if files.uses_object_storage():
            # Refuse a broken metadata.csv before copying gigabytes to the bucket.
            importing.read_metadata(folder / "metadata.csv")
            stored = _copy_to_object_storage(folder, root)
        report = dataset_import(folder=folder, name=name, **options)
    except BaseException as error:
        _delete_objects(stored)
        shutil.rmtree(folder, ignore_errors=True)
        if isinstance(error, OSError):  # reading the files just unpacked: the disk failed
            raise DatasetUploadFailed(_disk_failure(error)) from error
        raise
    if files.uses_object_storage():
        shutil.rmtree(folder, ignore_errors=True)  # the bucket has them now
    return report


def _unpack(bundle: zipfile.ZipFile, layout: importing.ZipLayout, base: str, *, max_bytes: int) -> Path:
    """Extract the checked archive into a new folder of DATASET_UPLOAD_ROOT named base (or base-2...), and return it.

    It is unpacked into a hidden folder first and renamed once complete, so a dataset folder
    is never seen half-written; on any failure nothing is left behind.
    """
    uploads = files.dataset_upload_root()
    staging = folder = None
    try:
        uploads.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=uploads))
        try:
            importing.extract_zip(bundle, layout, staging, max_bytes=max_bytes)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError) as error:
            # A corrupt member, an unsupported compression method: refuse the archive.
            raise importing.DatasetFolderInvalid(f"the archive cannot be unpacked: {error}.") from None
        staging.chmod(0o755)  # mkdtemp's folder is private; Nginx reads the images as another user
        folder = _reserve_folder(uploads, base)
        staging.rename(folder)  # replaces the empty reserved folder, at once
        return folder
    except OSError as error:  # not writable (a read-only mount), full, or the archive unreadable
        raise DatasetUploadFailed(_disk_failure(error)) from error
    finally:
        if staging is not None and staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
            if folder is not None:
                _remove_empty(folder)


def _reserve_folder(uploads: Path, base: str) -> Path:
    """Create and return an empty folder named base, base-2, base-3... that no dataset uses yet.

    Creating it is what reserves the name, so two uploads with one name never share a folder.
    """
    n = 1
    while True:
        name = base if n == 1 else f"{base}-{n}"
        n += 1
        root = f"{files.UPLOADS}/{name}"
        if Dataset.objects.filter(root=root).exists() or _has_objects(root):
            continue  # a dataset (maybe with its files in the bucket only) has that name
        try:
            (uploads / name).mkdir()
        except FileExistsError:
            continue
        return uploads / name


def _has_objects(root: str) -> bool:
    """Return whether the bucket holds anything under root (always False without object storage)."""
    if not files.uses_object_storage():
        return False
    folders, names = _object_storage_call(storages[files.DATASETS_STORAGE].listdir, root)
    return bool(folders or names)


def _copy_to_object_storage(folder: Path, root: str) -> list[str]:
    """Copy every file below folder into the datasets storage under root; return their names.

    As ``aws s3 sync`` would, several at a time. If any copy fails, the others are stopped,
    those made are deleted, and DatasetUploadFailed says why.
    """
    storage = storages[files.DATASETS_STORAGE]
    paths = sorted(path for path in folder.rglob("*") if path.is_file())
    stored: list[str] = []  # every name this upload may have written, so that a failure removes them all
    lock = threading.Lock()

    def copy(path: Path) -> None:
        name = f"{root}/{path.relative_to(folder).as_posix()}"
        with lock:
            stored.append(name)  # before saving: a store failing halfway may have written it
        with path.open("rb") as content:
            saved = storage.save(name, File(content))
        if saved != name:  # the storage never overwrites: another upload took this name meanwhile
            with lock:
                stored[stored.index(name)] = saved  # that name is theirs; the copy under another is ours
            raise DatasetUploadFailed(f"{name} appeared in the bucket during the upload; upload the dataset again.")

    with ThreadPoolExecutor(OBJECT_STORAGE_THREADS) as pool:
        futures = [pool.submit(_object_storage_call, copy, path) for path in paths]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        failed = next((future.exception() for future in done if future.exception()), None)
        if failed is not None:
            for future in futures:
                future.cancel()
    if failed is not None:  # the pool has finished what was running
        _delete_objects(stored)
        raise failed
    return stored


def _delete_objects(names: list[str]) -> None:
    """Delete these objects from the datasets storage, logging any that cannot be (the upload failed anyway)."""
    if not names:
        return
    storage = storages[files.DATASETS_STORAGE]
    with ThreadPoolExecutor(OBJECT_STORAGE_THREADS) as pool:
        for name, future in [(name, pool.submit(_object_storage_call, storage.delete, name)) for name in names]:
            if future.exception() is not None:
                logger.error("Could not delete %s from the bucket after a failed upload: %s", name, future.exception())


def _object_storage_call(function, *args):
    """Call a storage function, turning the object store's failures into DatasetUploadFailed."""
    # Only needed, and installed, for object storage.
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return function(*args)
    except (BotoCoreError, ClientError, Boto3Error) as error:  # unreachable endpoint, bad credentials, no bucket
        logger.error("Storing an uploaded dataset in object storage failed: %s", error)
        raise DatasetUploadFailed(
            f"the object store did not accept the dataset's images ({error}); check DATASETS_S3_BUCKET and its "
            "credentials, or try again in a moment. Nothing was stored."
        ) from error


def _disk_failure(error: OSError) -> str:
    reason = error.strerror or str(error)
    where = f" ({error.filename})" if error.filename else ""
    return (
        f"the server could not unpack the archive into DATASET_UPLOAD_ROOT ({files.dataset_upload_root()}): "
        f"{reason}{where}. An administrator must make that folder writable, with room for the dataset "
        '(docs/datasets.md, "From Django admin"). Nothing was stored.'
    )


def _remove_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:  # not empty (it is someone's) or already gone: leave it
        pass
