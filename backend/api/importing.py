"""Read a dataset folder (``images/`` and ``metadata.csv``) into a plan of images to import.

Pure: no ORM, no HTTP. ``services.dataset_import`` and the data migration apply the plan.
"""

import csv
import hashlib
import io
import os
import stat
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from PIL import Image as PILImage
from PIL import UnidentifiedImageError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp"}
FILENAME_COLUMN = "filename"
GROUND_TRUTH_COLUMN = "ground_truth"
# Columns naming a file that goes with the image, relative to the dataset's folder: read, hashed and
# imported with it (an AI's saliency map shown to study participants; a reference mask that practice
# and catch images are judged against). The column's value stays in the image's metadata too.
ATTACHMENT_COLUMNS = ("ai_saliency", "reference_mask")
MAX_IMAGE_PIXELS = 100_000_000  # larger images are refused as unreadable (decompression bombs)


class DatasetFolderInvalid(ValueError):
    """The folder or its metadata.csv cannot be imported at all; the message says why."""


@dataclass(frozen=True)
class MetadataRow:
    """One row of metadata.csv."""

    line: int
    filename: str
    ground_truth: str | None
    metadata: dict[str, str]


@dataclass(frozen=True)
class Attachment:
    """A file that goes with an image (``ATTACHMENT_COLUMNS``), read and hashed."""

    kind: str  # the column that named it
    path: str  # relative to the dataset folder, with forward slashes
    sha256: str
    width: int
    height: int


@dataclass(frozen=True)
class ImageFile:
    """An image file matched with its CSV row, read and hashed."""

    path: str  # relative to the dataset folder, with forward slashes
    sha256: str
    width: int
    height: int
    ground_truth: str | None
    metadata: dict[str, str]
    position: int  # the row's order in metadata.csv
    attachments: tuple[Attachment, ...] = ()


@dataclass
class ImportPlan:
    """What a folder holds: the images to import and everything that could not be matched or read."""

    images: list[ImageFile] = field(default_factory=list)
    files_without_row: list[str] = field(default_factory=list)
    rows_without_file: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # "path: reason"
    ambiguous: list[str] = field(default_factory=list)  # rows that match several files
    attachments_missing: list[str] = field(default_factory=list)  # "ai_saliency of images/a.png: reason"


def read_metadata(csv_path: Path) -> list[MetadataRow]:
    """Return the rows of metadata.csv, or raise DatasetFolderInvalid naming the problem."""
    try:
        raw = csv_path.read_bytes()
    except FileNotFoundError:
        raise DatasetFolderInvalid(f"{csv_path} does not exist; a dataset folder needs a metadata.csv.") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DatasetFolderInvalid(f"{csv_path} is not UTF-8 text (byte {error.start}); save it as UTF-8.") from None
    try:
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        header = next(reader, None)
        if header is None:
            raise DatasetFolderInvalid(f"{csv_path} is empty; it needs a header row with a 'filename' column.")
        header = [name.strip() for name in header]
        if FILENAME_COLUMN not in header:
            raise DatasetFolderInvalid(
                f"{csv_path} has no 'filename' column; its columns are {', '.join(header) or '(none)'}."
            )
        if len(set(header)) != len(header) or "" in header:
            raise DatasetFolderInvalid(f"{csv_path} has empty or repeated column names: {', '.join(header)}.")
        rows = []
        seen: dict[str, int] = {}
        for values in reader:
            line = reader.line_num
            if not any(v.strip() for v in values):
                continue  # blank line
            if len(values) != len(header):
                raise DatasetFolderInvalid(
                    f"{csv_path} line {line} has {len(values)} fields; the header has {len(header)}."
                )
            record = dict(zip(header, (v.strip() for v in values), strict=False))
            filename = record.pop(FILENAME_COLUMN)
            if not filename:
                raise DatasetFolderInvalid(f"{csv_path} line {line} has an empty filename.")
            if filename in seen:
                raise DatasetFolderInvalid(
                    f"{csv_path} line {line} repeats the filename {filename!r} of line {seen[filename]}."
                )
            seen[filename] = line
            ground_truth = record.pop(GROUND_TRUTH_COLUMN, None) or None
            rows.append(MetadataRow(line=line, filename=filename, ground_truth=ground_truth, metadata=record))
    except csv.Error as error:
        raise DatasetFolderInvalid(f"{csv_path} is not valid CSV: {error}.") from None
    return rows


def list_image_files(images_dir: Path) -> list[str]:
    """Return the image files below images_dir, relative to it, sorted."""
    if not images_dir.is_dir():
        raise DatasetFolderInvalid(f"{images_dir} is not a folder; a dataset folder needs an images/ folder.")
    found = []
    for path in images_dir.rglob("*"):
        if path.is_file() and not path.name.startswith(".") and path.suffix.lower() in IMAGE_SUFFIXES:
            found.append(path.relative_to(images_dir).as_posix())
    return sorted(found)


def match_rows(rows: list[MetadataRow], files: list[str]):
    """Pair CSV rows with files, by path or by path without extension.

    Return (pairs, files_without_row, rows_without_file, ambiguous).
    """
    paths = set(files)
    by_stem: dict[str, list[str]] = {}
    for f in files:
        by_stem.setdefault(str(PurePosixPath(f).with_suffix("")), []).append(f)
    pairs, rows_without_file, ambiguous = [], [], []
    used = set()
    for row in rows:
        name = row.filename.replace("\\", "/").removeprefix("./").removeprefix("images/")
        if name in paths:
            match = name
        elif PurePosixPath(name).suffix.lower() in IMAGE_SUFFIXES:
            rows_without_file.append(row.filename)  # named with an extension: only that exact file will do
            continue
        else:
            candidates = by_stem.get(name, [])
            if len(candidates) > 1:
                ambiguous.append(f"{row.filename} (line {row.line}) matches {', '.join(candidates)}")
                continue
            if not candidates:
                rows_without_file.append(row.filename)
                continue
            match = candidates[0]
        if match in used:
            ambiguous.append(f"{row.filename} (line {row.line}) names {match}, already named by another row")
            continue
        used.add(match)
        pairs.append((row, match))
    files_without_row = [f for f in files if f not in used]
    return pairs, files_without_row, rows_without_file, ambiguous


def inspect_image(path: Path) -> tuple[str, int, int]:
    """Return (sha256, width, height) of an image file; raise ValueError if it cannot be read as an image."""
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            with PILImage.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise ValueError(f"{width}x{height} is larger than {MAX_IMAGE_PIXELS} pixels")
                if image.format == "JPEG":
                    # verify() reads only a JPEG's headers. Decoding at 1/8 scale (the DCT's own
                    # scaling, a few times cheaper than full size) reaches the end of the data, so a
                    # file cut short is refused here instead of showing grey to annotators.
                    image.draft(image.mode, (width // 8, height // 8))
                    image.load()
                else:
                    image.verify()  # a PNG's chunks and their CRCs, without decoding
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        PILImage.DecompressionBombWarning,
        PILImage.DecompressionBombError,
    ) as error:
        # Pillow reports truncated or corrupt files with any of these.
        raise ValueError(str(error) or type(error).__name__) from None
    return digest, width, height


def _inspect_or_error(path: Path) -> tuple[str, int, int] | ValueError:
    try:
        return inspect_image(path)
    except ValueError as error:
        return error


_INSPECT_CHUNK = 256  # files handed to the threads at a time: memory stays flat on any dataset
# One thread per core this process may run on (a container's cpuset, not the host's count), at most
# 8: each thread holds one whole file in memory while it inspects it.
THREADS = min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def inspect_images(paths: list[Path]) -> Iterator[tuple[str, int, int] | ValueError]:
    """Yield inspect_image's result or its error for each path, in order, a thread per core.

    Reading, hashing and decoding release the GIL, so the files are read side by side.
    """
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        for start in range(0, len(paths), _INSPECT_CHUNK):
            yield from pool.map(_inspect_or_error, paths[start : start + _INSPECT_CHUNK])


def plan_import(folder: Path, *, progress: Callable[[Iterable], Iterable] = iter) -> ImportPlan:
    """Read the dataset folder into an ImportPlan. ``progress`` wraps the loop over files (e.g. a progress bar)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetFolderInvalid(f"{folder} is not a folder.")
    rows = read_metadata(folder / "metadata.csv")
    files = list_image_files(folder / "images")
    pairs, files_without_row, rows_without_file, ambiguous = match_rows(rows, files)
    # Paths in the folder, as every other section names them ("images/a.png").
    files_without_row = [f"images/{relative}" for relative in files_without_row]
    plan = ImportPlan(files_without_row=files_without_row, rows_without_file=rows_without_file, ambiguous=ambiguous)
    inspected = inspect_images([folder / "images" / relative for _, relative in pairs])
    # zip() waits for each result before it takes the pair, so the progress bar counts files done.
    for position, (result, (row, relative)) in enumerate(zip(inspected, progress(pairs), strict=True)):
        if isinstance(result, ValueError):
            plan.unreadable.append(f"images/{relative}: {result}")
            continue
        sha256, width, height = result
        plan.images.append(
            ImageFile(
                path=f"images/{relative}",
                sha256=sha256,
                width=width,
                height=height,
                ground_truth=row.ground_truth,
                metadata=row.metadata,
                position=position,
            )
        )
    _plan_attachments(folder, plan)
    return plan


def attachment_path(value: str) -> str | None:
    """Return an attachment's path relative to the dataset folder, or None if it would lie outside it."""
    name = value.strip().replace("\\", "/").removeprefix("./")
    parts = PurePosixPath(name).parts
    if not name or name.startswith("/") or ".." in parts or (len(name) > 1 and name[1] == ":"):
        return None
    return PurePosixPath(name).as_posix()


def _plan_attachments(folder: Path, plan: ImportPlan) -> None:
    """Read and hash the files the images' attachment columns name; report those missing or unreadable."""
    wanted = []  # (index of the image in plan.images, kind, relative path)
    for index, image in enumerate(plan.images):
        for kind in ATTACHMENT_COLUMNS:
            value = image.metadata.get(kind, "")
            if not value.strip():
                continue
            relative = attachment_path(value)
            if relative is None:
                plan.attachments_missing.append(f"{kind} of {image.path}: {value!r} lies outside the dataset's folder")
            elif not (folder / relative).is_file():
                plan.attachments_missing.append(f"{kind} of {image.path}: {relative} does not exist")
            else:
                wanted.append((index, kind, relative))
    found: dict[int, list[Attachment]] = {}
    for (index, kind, relative), result in zip(wanted, inspect_images([folder / r for _, _, r in wanted]), strict=True):
        if isinstance(result, ValueError):
            plan.attachments_missing.append(f"{kind} of {plan.images[index].path}: {relative}: {result}")
            continue
        found.setdefault(index, []).append(Attachment(kind, relative, *result))
    for index, attachments in found.items():
        plan.images[index] = replace(plan.images[index], attachments=tuple(attachments))


# --- Zip archives of a dataset folder ---------------------------------------------------------

ZIP_MAX_MEMBERS = 1_000_000


@dataclass(frozen=True)
class ZipLayout:
    """Where the dataset lies in an archive: ``prefix`` is "" or the one top folder holding it."""

    prefix: str
    members: list[zipfile.ZipInfo]  # the regular files and folders below the prefix, to extract
    total_bytes: int


def check_zip(archive: zipfile.ZipFile, *, max_bytes: int) -> ZipLayout:
    """Check every member of a dataset archive before anything is extracted; raise DatasetFolderInvalid if unsafe.

    Refused, each listed by name: absolute paths, drive letters, backslashes and ".." (paths
    that would land outside the dataset's folder, "zip slip"), symbolic links and other
    special files, encrypted members, and archives that unpack to more than ``max_bytes`` or
    ZIP_MAX_MEMBERS files. The dataset is ``metadata.csv`` and ``images/`` at the top of the
    archive, or inside its one top folder (as when a folder is zipped).
    """
    infos = archive.infolist()
    if len(infos) > ZIP_MAX_MEMBERS:
        raise DatasetFolderInvalid(f"the archive has {len(infos)} members; at most {ZIP_MAX_MEMBERS} are accepted.")
    problems = []
    for info in infos:
        name = info.filename
        parts = name.split("/")
        mode = info.external_attr >> 16
        kind = stat.S_IFMT(mode)
        if "\\" in name:
            problems.append(f"{name!r} uses backslashes; paths in a zip use forward slashes")
        elif name.startswith("/") or (len(name) > 1 and name[1] == ":"):
            problems.append(f"{name!r} is an absolute path")
        elif ".." in parts:
            problems.append(f"{name!r} leads outside the dataset's folder (..)")
        elif "\x00" in name:
            problems.append(f"{name!r} contains a NUL character")
        elif kind == stat.S_IFLNK:
            problems.append(f"{name!r} is a symbolic link")
        elif kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            problems.append(f"{name!r} is not a regular file or folder")
        elif info.flag_bits & 0x1:
            problems.append(f"{name!r} is encrypted")
    if problems:
        raise DatasetFolderInvalid("the archive is refused, nothing was stored: " + "; ".join(problems) + ".")
    total = sum(info.file_size for info in infos)
    if total > max_bytes:
        raise DatasetFolderInvalid(
            f"the archive unpacks to {total / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.1f} MB "
            "(DATASET_UPLOAD_MAX_BYTES). Put a larger dataset on the server and import it by folder."
        )
    names = {info.filename.rstrip("/") for info in infos}
    if "metadata.csv" in names:
        prefix = ""
    else:
        tops = {name.split("/")[0] for name in names if name and not name.startswith("__MACOSX")}
        if len(tops) == 1 and f"{next(iter(tops))}/metadata.csv" in names:
            prefix = next(iter(tops)) + "/"
        else:
            raise DatasetFolderInvalid(
                "the archive has no metadata.csv at its top (or in its one top folder); a dataset archive holds "
                "metadata.csv and images/."
            )
    members = [
        info
        for info in infos
        if info.filename.startswith(prefix)
        and info.filename != prefix
        and not info.filename.startswith(prefix + "__MACOSX")
    ]
    return ZipLayout(prefix=prefix, members=members, total_bytes=total)


def extract_zip(archive: zipfile.ZipFile, layout: ZipLayout, folder: Path, *, max_bytes: int) -> None:
    """Extract the checked members below ``folder`` (which must be new and empty), never writing outside it.

    Sizes are counted as bytes are written, since a member's declared size may lie.
    """
    root = folder.resolve()
    written = 0
    for info in layout.members:
        relative = info.filename[len(layout.prefix) :]
        target = (root / relative).resolve()
        if root not in target.parents and target != root:
            raise DatasetFolderInvalid(f"{info.filename!r} leads outside the dataset's folder.")
        if info.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL and O_NOFOLLOW: never write through a link or over a file already there.
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
        with os.fdopen(fd, "wb") as out, archive.open(info) as source:
            while chunk := source.read(1 << 20):
                written += len(chunk)
                if written > max_bytes:
                    raise DatasetFolderInvalid(
                        f"the archive unpacks to more than its declared sizes, past {max_bytes / 1e6:.1f} MB."
                    )
                out.write(chunk)
