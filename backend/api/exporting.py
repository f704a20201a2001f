"""Export formats: COCO JSON, CSV, JSON Lines, and a zip of PNG masks, each as a stream of bytes.

Pure: no ORM, no HTTP. Every function here takes plain rows (dicts) as an iterable and
yields the file piece by piece, so an export of any size runs in constant memory; the
selectors feed the rows straight from a database cursor.

An image row holds ``id, path, sha256, width, height, ground_truth, metadata``; an
annotation row holds ``id, image (an image row), annotator_id, annotator, is_test, label,
text, status, version, started_at, submitted_at, active_ms, client, stroke_count,
mask_area, mask_rle`` and, for JSON Lines, ``strokes_json`` (the strokes as JSON text,
spliced in unparsed for speed).
"""

import csv
import io
import itertools
import json
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import PurePosixPath

from pycocotools import mask as coco_mask

from . import masks, saliency
from .zipstream import CHUNK_BYTES, zip_pieces

FORMATS = ("coco", "csv", "jsonl", "masks")
CATEGORY_MODES = ("choice", "salient")
UNLABELLED = "unlabelled"

CSV_COLUMNS = (
    "annotation_id",
    "image_id",
    "file_name",
    "sha256",
    "ground_truth",
    "annotator",
    "annotator_id",
    "is_test",
    "label",
    "correct",
    "text",
    "status",
    "version",
    "started_at",
    "submitted_at",
    "active_ms",
    "stroke_count",
    "mask_area",
)
# With ``with_masks`` (admin's export): each mask as COCO compressed RLE with the size it needs.
MASK_COLUMNS = ("width", "height", "mask_rle")


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def iso(moment: datetime | None) -> str | None:
    """Return an aware datetime as ISO 8601 (UTC stays +00:00), or None."""
    return moment.isoformat() if moment is not None else None


def file_name(path: str) -> str:
    """Return an image's path relative to its dataset's ``images/`` folder, as metadata.csv names it."""
    return path.removeprefix("images/")


def is_correct(label: str | None, ground_truth: str | None) -> bool | None:
    """Return whether the answer equals the ground truth; None when either is missing."""
    if label is None or ground_truth in (None, ""):
        return None
    return label == ground_truth


def buffered(pieces: Iterable[str | bytes], size: int = CHUNK_BYTES) -> Iterator[bytes]:
    """Join small pieces (text is UTF-8 encoded) into chunks of about ``size`` bytes."""
    parts: list[bytes] = []
    held = 0
    for piece in pieces:
        data = piece.encode("utf-8") if isinstance(piece, str) else piece
        parts.append(data)
        held += len(data)
        if held >= size:
            yield b"".join(parts)
            parts, held = [], 0
    if parts:
        yield b"".join(parts)


# --- COCO ------------------------------------------------------------------------


def coco_image(image: dict) -> dict:
    """Return the COCO ``images`` entry of an image row, with its hash, ground truth and metadata."""
    return {
        "id": image["id"],
        "file_name": file_name(image["path"]),
        "width": image["width"],
        "height": image["height"],
        "sha256": image["sha256"],
        "ground_truth": image["ground_truth"],
        "metadata": image["metadata"],
    }


class CocoCategories:
    """The COCO categories: one per choice (plus "unlabelled" if needed), or a single "salient" one."""

    def __init__(self, mode: str, choices: Sequence[str]):
        if mode not in CATEGORY_MODES:
            raise ValueError(f"categories must be one of {', '.join(CATEGORY_MODES)}; got {mode!r}")
        self.mode = mode
        names = list(choices) if mode == "choice" else ["salient"]
        self.ids = {name: index + 1 for index, name in enumerate(names)}
        self.supercategory = "answer" if mode == "choice" else "saliency"

    def id_for(self, label: str | None) -> int:
        if self.mode == "salient":
            return 1
        key = UNLABELLED if label is None else label
        if key not in self.ids:
            # No answer, or an answer no longer among the choices: a category of its own.
            self.ids[key] = len(self.ids) + 1
        return self.ids[key]

    def entries(self) -> list[dict]:
        return [{"id": i, "name": name, "supercategory": self.supercategory} for name, i in self.ids.items()]


def coco_annotation(row: dict, category_id: int, bbox: Sequence[float]) -> dict:
    """Return the COCO ``annotations`` entry of an annotation row: RLE segmentation plus EyeTagger's fields."""
    image = row["image"]
    return {
        "id": row["id"],
        "image_id": image["id"],
        "category_id": category_id,
        "segmentation": {"size": [image["height"], image["width"]], "counts": row["mask_rle"]},
        "area": row["mask_area"],
        "bbox": [float(v) for v in bbox],
        "iscrowd": 0,
        "annotator": row["annotator"],
        "annotator_id": row["annotator_id"],
        **_answer_and_timings(row),
        "stroke_count": row["stroke_count"],
    }


def _answer_and_timings(row: dict) -> dict:
    """Return what COCO and JSON Lines both say of an annotation: the answer, its version and timings."""
    return {
        "label": row["label"],
        "text": row["text"],
        "status": row["status"],
        "version": row["version"],
        "started_at": iso(row["started_at"]),
        "submitted_at": iso(row["submitted_at"]),
        "active_ms": row["active_ms"],
    }


def _batches(rows: Iterable[dict], size: int) -> Iterator[list[dict]]:
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def coco_pieces(*, info: dict, images: Iterable[dict], annotations: Iterable[dict], categories: CocoCategories):
    """Yield the COCO JSON document as text, one image or annotation per line.

    Bounding boxes come from pycocotools (``toBbox``) on the stored RLE, a batch at a time.
    Categories come last, so an "unlabelled" category appears only when some answer is missing.
    """
    yield '{"info":' + _json(info) + ',"licenses":[],"images":['
    separator = "\n"
    for image in images:
        yield separator + _json(coco_image(image))
        separator = ",\n"
    yield '\n],"annotations":['
    separator = "\n"
    for batch in _batches(annotations, 512):
        rles = [masks.rle_object(r["mask_rle"], r["image"]["width"], r["image"]["height"]) for r in batch]
        boxes = coco_mask.toBbox(rles)
        for row, box in zip(batch, boxes, strict=True):
            yield separator + _json(coco_annotation(row, categories.id_for(row["label"]), box))
            separator = ",\n"
    yield '\n],"categories":' + _json(categories.entries()) + "}\n"


# --- CSV -------------------------------------------------------------------------


def csv_columns(metadata_keys: Iterable[str], *, with_masks: bool = False) -> list[str]:
    """Return the CSV header: the fixed columns (and the mask's, ``with_masks``), then the image metadata columns.

    A metadata column named like a fixed one is prefixed with ``metadata_`` so neither is lost.
    """
    fixed = CSV_COLUMNS + MASK_COLUMNS if with_masks else CSV_COLUMNS
    columns = list(fixed)
    for key in metadata_keys:
        columns.append(f"metadata_{key}" if key in fixed else key)
    return columns


# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets, which
# run it when the file is opened (CSV injection): annotators' text must never become one.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    """Return a text cell that a spreadsheet shows as text: a leading ``'`` before a formula start.

    Numbers (``-3.5``, ``+1``) stay as they are, so numeric metadata still reads as numbers.
    """
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    try:
        float(value)
    except ValueError:
        return "'" + value
    return value


def _csv_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return spreadsheet_safe(value)


def csv_row(row: dict, metadata_keys: Sequence[str], *, with_masks: bool = False) -> list:
    """Return the CSV cells of an annotation row, in the order of ``csv_columns``.

    The RLE is written as it is: it may start with ``=`` or ``@``, and must stay exact.
    """
    image = row["image"]
    cells = [
        row["id"],
        image["id"],
        file_name(image["path"]),
        image["sha256"],
        image["ground_truth"],
        row["annotator"],
        row["annotator_id"],
        row["is_test"],
        row["label"],
        is_correct(row["label"], image["ground_truth"]),
        row["text"],
        row["status"],
        row["version"],
        row["started_at"],
        row["submitted_at"],
        row["active_ms"],
        row["stroke_count"],
        row["mask_area"],
    ]
    if with_masks:
        cells += [image["width"], image["height"]]
    metadata = image["metadata"] or {}
    cells = [_csv_value(cell) for cell in cells]
    if with_masks:
        cells.append(row["mask_rle"])
    return cells + [_csv_value(metadata.get(key)) for key in metadata_keys]


def csv_pieces(rows: Iterable[dict], metadata_keys: Sequence[str], *, with_masks: bool = False) -> Iterator[str]:
    """Yield the annotations' CSV (RFC 4180: quoted as needed, CRLF line ends), a row at a time."""
    header = csv_columns(metadata_keys, with_masks=with_masks)
    return table_pieces(header, (csv_row(row, metadata_keys, with_masks=with_masks) for row in rows))


def csv_cells(cells: Iterable) -> list:
    """Return cells as a CSV writes them: text spreadsheet-safe, booleans and times as words."""
    return [_csv_value(cell) for cell in cells]


def csv_table(header: Sequence[str], rows: Iterable[Iterable]) -> Iterator[str]:
    """Yield a CSV table of raw rows, every cell made spreadsheet-safe (``csv_cells``): the API's and commands' CSV."""
    return table_pieces(header, (csv_cells(cells) for cells in rows))


def table_pieces(header: Sequence[str], rows: Iterable[Sequence]) -> Iterator[str]:
    """Yield a CSV table of rows whose cells are ready to write (``csv_cells``), a few rows at a time."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for cells in rows:
        writer.writerow(cells)
        if out.tell() >= CHUNK_BYTES:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


# --- JSON Lines and the strokes document ------------------------------------------


def annotation_document(row: dict, *, strokes_json: str) -> str:
    """Return an annotation as one line of JSON: the strokes document, its timings, image and annotator.

    ``strokes_json`` is spliced in as it is (it came out of a JSON column, so it is valid
    JSON without line breaks): re-parsing megabytes of points would only slow exports down.
    """
    image = row["image"]
    head = {
        "id": row["id"],
        "image": {
            "id": image["id"],
            "file_name": file_name(image["path"]),
            "sha256": image["sha256"],
            "width": image["width"],
            "height": image["height"],
            "ground_truth": image["ground_truth"],
        },
        "annotator": {"id": row["annotator_id"], "username": row["annotator"], "is_test": row["is_test"]},
        **_answer_and_timings(row),
        "client": row["client"],
        "stroke_count": row["stroke_count"],
        "mask_area": row["mask_area"],
    }
    return _json(head)[:-1] + ',"strokes":' + strokes_json + "}"


def jsonl_pieces(rows: Iterable[dict]) -> Iterator[str]:
    """Yield one JSON document per line per annotation, strokes included."""
    for row in rows:
        yield annotation_document(row, strokes_json=row["strokes_json"]) + "\n"


# --- Zip of masks -------------------------------------------------------------------


def mask_names(paths: Iterable[str]) -> Callable[[str], str]:
    """Return a function naming each image in the zip: its file name without extension, unique in the dataset.

    Two images whose names differ only by extension (``a.png``, ``a.jpg``) keep it, so no
    mask overwrites another.
    """
    seen: dict[str, int] = {}
    for path in paths:
        stem = str(PurePosixPath(file_name(path)).with_suffix(""))
        seen[stem] = seen.get(stem, 0) + 1

    def name(path: str) -> str:
        full = file_name(path)
        stem = str(PurePosixPath(full).with_suffix(""))
        return stem if seen.get(stem, 0) <= 1 else full

    return name


def masks_archive_pieces(
    *,
    info: dict,
    annotations: Iterable[dict],
    name_of: Callable[[str], str],
    metadata_keys: Sequence[str],
    sigma: float,
    date_time,
) -> Iterator[bytes]:
    """Yield the masks zip: ``info.json``, ``masks/<image>__<annotator>.png`` (1-bit PNG), per image
    ``saliency/<image>.png`` (the heat map of its exported masks, 8-bit) and ``annotations.csv``.

    ``annotations`` must come grouped by image. One pass: each image's heat map is written
    after its masks, and the CSV rows wait in a temporary file (on disk beyond 1 MB) until
    the end, so the CSV describes exactly the masks in the archive.
    """
    with tempfile.SpooledTemporaryFile(max_size=1 << 20, mode="w+", newline="", encoding="utf-8") as spool:
        writer = csv.writer(spool)
        writer.writerow(csv_columns(metadata_keys))

        def entries():
            yield "info.json", (_json(info) + "\n").encode("utf-8"), True
            for _, rows in itertools.groupby(annotations, key=lambda row: row["image"]["id"]):
                heat = None
                for row in rows:
                    image = row["image"]
                    if heat is None:
                        heat = saliency.HeatMap(image["width"], image["height"])
                        base = name_of(image["path"])
                    mask = masks.rle_decode(row["mask_rle"], image["width"], image["height"])
                    heat.add(mask)
                    writer.writerow(csv_row(row, metadata_keys))
                    yield f"masks/{base}__{row['annotator']}.png", masks.mask_png(mask), False
                yield f"saliency/{base}.png", saliency.heat_png(heat.mean(sigma=sigma)), False
            spool.seek(0)
            yield "annotations.csv", iter(lambda: spool.read(CHUNK_BYTES), ""), True

        yield from buffered(zip_pieces(entries(), date_time=date_time))
