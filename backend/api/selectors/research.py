"""Reads for researchers: selections of annotations, exports, saliency heat maps and agreement figures.

Everything here streams: rows come from a database cursor in chunks and are turned into
bytes by the pure modules (``exporting``, ``saliency``, ``agreement``) as they arrive.
"""

import hashlib
import itertools
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.db import connection, transaction
from django.db.models import Count, F, Max, Q, QuerySet, Sum, TextField
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from .. import agreement, exporting, masks, saliency
from ..models import Annotation, Dataset, Image
from .strokes import annotation_strokes, annotation_strokes_json, with_chunked_strokes

CHUNK_ROWS = 2000  # rows fetched per round trip: large enough to be cheap, small enough to stay flat
# Rows with their strokes can weigh 100 KB each (10 strokes of 200 points is ~70 KB): fetch fewer at once.
CHUNK_ROWS_WITH_STROKES = 100


@dataclass(frozen=True)
class Selection:
    """Which annotations to use; the defaults are every submitted annotation by a non-test user."""

    annotators: tuple[int, ...] = ()
    status: str = "submitted"
    include_test: bool = False
    label: str | None = None
    correct: bool | None = None
    since: datetime | None = None
    until: datetime | None = None

    def describe(self) -> dict:
        """Return the selection as JSON-ready values, recorded in exports and statistics."""
        return {
            "annotators": list(self.annotators),
            "status": self.status,
            "include_test": self.include_test,
            "label": self.label,
            "correct": self.correct,
            "since": exporting.iso(self.since),
            "until": exporting.iso(self.until),
        }


def annotation_selection(*, selection: Selection, dataset: Dataset | None = None, image: Image | None = None):
    """Return the annotations of a dataset or an image that the selection picks."""
    annotations = Annotation.objects.all()
    if dataset is not None:
        annotations = annotations.filter(image__dataset=dataset)
    if image is not None:
        annotations = annotations.filter(image=image)
    if selection.status != "all":
        annotations = annotations.filter(status=selection.status)
    if not selection.include_test:
        annotations = annotations.exclude(annotator__profile__is_test=True)
    if selection.annotators:
        annotations = annotations.filter(annotator_id__in=selection.annotators)
    if selection.label is not None:
        annotations = annotations.filter(label=selection.label)
    if selection.correct is not None:
        judged = Q(label__isnull=False, image__ground_truth__isnull=False) & ~Q(image__ground_truth="")
        right = Q(label=F("image__ground_truth"))
        annotations = annotations.filter(judged & (right if selection.correct else ~right))
    if selection.since is not None or selection.until is not None:
        annotations = annotations.alias(moment=Coalesce("submitted_at", "updated_at"))
        if selection.since is not None:
            annotations = annotations.filter(moment__gte=selection.since)
        if selection.until is not None:
            annotations = annotations.filter(moment__lte=selection.until)
    return annotations


@contextmanager
def _read_snapshot():
    """Read everything an export needs from one snapshot of the database, on PostgreSQL.

    A read-only REPEATABLE READ transaction makes the images and annotations read by
    several queries agree, and lets ``.iterator()`` use a plain server-side cursor, which
    streams rows as the query produces them (outside a transaction Django declares the
    cursor WITH HOLD, and PostgreSQL computes the whole result before the first row).
    SQLite needs neither, and a transaction there would take the write lock
    (``transaction_mode`` is IMMEDIATE) and hold up every annotator for the whole export.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


# --- Rows for the exports ---------------------------------------------------------

_ROW_FIELDS = (
    "id",
    "image_id",
    "image__path",
    "image__sha256",
    "image__width",
    "image__height",
    "image__ground_truth",
    "image__metadata",
    "annotator_id",
    "annotator__username",
    "annotator__profile__is_test",
    "label",
    "text",
    "status",
    "version",
    "started_at",
    "submitted_at",
    "active_ms",
    "client",
    "stroke_count",
    "mask_area",
    "mask_rle",
)


def _missing_rle(annotation_id: int, width: int, height: int) -> str:
    """Return the RLE of an annotation stored without one (written around the services), from its strokes."""
    strokes = annotation_strokes(Annotation.objects.only("strokes", "chunked").get(pk=annotation_id))
    return masks.rle_encode(masks.annotation_mask(mask_rle="", strokes=strokes, width=width, height=height))


def _rows(annotations: QuerySet, *, with_strokes: bool) -> Iterator[dict]:
    """Yield the export rows of the annotations, grouped by image (image id, then annotator id)."""
    if not with_strokes:
        return _plain_rows(annotations, with_strokes=False)
    rows = _plain_rows(annotations.annotate(strokes_json=Cast("strokes", TextField())), with_strokes=True)
    return with_chunked_strokes(rows, batch=CHUNK_ROWS_WITH_STROKES)


def _plain_rows(annotations: QuerySet, *, with_strokes: bool) -> Iterator[dict]:
    """Yield the rows as ``_rows`` says, with the strokes stored in the annotations' rows (and whether chunked)."""
    fields = _ROW_FIELDS
    if with_strokes:
        fields += ("strokes_json", "chunked")
    # (image, annotator) is the unique constraint's index: rows come in its order, with no sort.
    values = annotations.order_by("image_id", "annotator_id").values_list(*fields)
    image = None
    for record in values.iterator(chunk_size=CHUNK_ROWS_WITH_STROKES if with_strokes else CHUNK_ROWS):
        (pk, image_id, path, sha256, width, height, ground_truth, metadata, annotator_id, username, is_test) = record[
            :11
        ]
        if image is None or image["id"] != image_id:
            image = {
                "id": image_id,
                "path": path,
                "sha256": sha256,
                "width": width,
                "height": height,
                "ground_truth": ground_truth,
                "metadata": metadata,
            }
        row = dict(zip(fields[11:], record[11:], strict=True))
        row.update(id=pk, image=image, annotator_id=annotator_id, annotator=username, is_test=bool(is_test))
        if not row["mask_rle"]:
            row["mask_rle"] = _missing_rle(pk, width, height)
        yield row


def annotation_document(annotation: Annotation) -> str:
    """Return one annotation as its line of the jsonl export: strokes document, timings, image, annotator."""
    image = annotation.image
    profile = getattr(annotation.annotator, "profile", None)
    row = {
        "id": annotation.pk,
        "image": {
            "id": image.pk,
            "path": image.path,
            "sha256": image.sha256,
            "width": image.width,
            "height": image.height,
            "ground_truth": image.ground_truth,
        },
        "annotator_id": annotation.annotator_id,
        "annotator": annotation.annotator.username,
        "is_test": bool(profile and profile.is_test),
        **{field: getattr(annotation, field) for field in _ROW_FIELDS[11:-1]},
    }
    return exporting.annotation_document(row, strokes_json=annotation_strokes_json(annotation))


def _images(dataset: Dataset) -> Iterator[dict]:
    fields = ("id", "path", "sha256", "width", "height", "ground_truth", "metadata")
    values = Image.objects.filter(dataset=dataset).order_by("id").values_list(*fields)
    for record in values.iterator(chunk_size=CHUNK_ROWS):
        yield dict(zip(fields, record, strict=True))


def _metadata_keys(images: QuerySet) -> list[str]:
    """Return the metadata columns of the images, in the order their datasets' metadata.csv had them."""
    keys: dict[str, None] = {}
    values = images.order_by("dataset_id", "position", "id").values_list("metadata", flat=True)
    for metadata in values.iterator(chunk_size=CHUNK_ROWS):
        for key in metadata or {}:
            keys.setdefault(key, None)
    return list(keys)


def _image_paths(dataset: Dataset) -> Iterator[str]:
    return Image.objects.filter(dataset=dataset).values_list("path", flat=True).iterator(chunk_size=CHUNK_ROWS)


@dataclass
class Export:
    """A dataset export ready to stream: its file name, media type, size in annotations, and bytes."""

    filename: str
    content_type: str
    count: int
    pieces: Iterator[bytes]


_MEDIA = {
    "coco": ("json", "application/json"),
    "csv": ("csv", "text/csv; charset=utf-8"),
    "jsonl": ("jsonl", "application/x-ndjson"),
    "masks": ("zip", "application/zip"),
}


def _export_info(*, dataset: Dataset, selection: Selection, count: int, now) -> dict:
    """The header every export carries (COCO's ``info``, the masks archive's info.json)."""
    return {
        "description": dataset.name,
        "dataset": {"id": dataset.pk, "slug": dataset.slug, "question": dataset.question, "choices": dataset.choices},
        "selection": selection.describe(),
        "annotations": count,
        "date_created": now.isoformat(),
        "url": "",
        "version": "1.0",
        "year": now.year,
        "contributor": "EyeTagger",
    }


def dataset_export(
    *,
    dataset: Dataset,
    selection: Selection,
    format: str,
    categories: str | None = None,
    sigma: float = 0.0,
    progress: Callable[[Iterable], Iterable] | None = None,
) -> Export:
    """Return the dataset's annotations (those the selection picks) as a streamed file in ``format``.

    ``progress`` wraps the annotation rows as they are written (the command passes a
    progress bar). Nothing is read until the bytes are iterated.
    """
    if format not in exporting.FORMATS:
        raise ValueError(f"format must be one of {', '.join(exporting.FORMATS)}; got {format!r}")
    annotations = annotation_selection(selection=selection, dataset=dataset)
    count = annotations.count()
    now = timezone.now()
    info = _export_info(dataset=dataset, selection=selection, count=count, now=now)
    wrap = progress or (lambda rows: rows)

    def pieces() -> Iterator[bytes]:
        with _read_snapshot():
            rows = wrap(_rows(annotations, with_strokes=format == "jsonl"))
            if format == "coco":
                mode = categories or ("choice" if dataset.choices else "salient")
                coco = exporting.coco_pieces(
                    info=info,
                    images=_images(dataset),
                    annotations=rows,
                    categories=exporting.CocoCategories(mode, dataset.choices),
                )
                yield from exporting.buffered(coco)
            elif format == "csv":
                yield from exporting.buffered(exporting.csv_pieces(rows, _metadata_keys(dataset.images.all())))
            elif format == "jsonl":
                yield from exporting.buffered(exporting.jsonl_pieces(rows))
            else:
                yield from exporting.masks_archive_pieces(
                    info={**info, "sigma": sigma},
                    annotations=rows,
                    name_of=exporting.mask_names(_image_paths(dataset)),
                    metadata_keys=_metadata_keys(dataset.images.all()),
                    sigma=sigma,
                    date_time=timezone.localtime(now).timetuple()[:6],
                )

    extension, content_type = _MEDIA[format]
    stamp = now.strftime("%Y%m%d-%H%M%S")
    return Export(f"{dataset.slug}-{format}-{stamp}.{extension}", content_type, count, pieces())


def annotation_csv(*, annotations: QuerySet, with_masks: bool = False) -> Iterator[bytes]:
    """Yield any annotations (admin's selection, across datasets) as the export's CSV, streamed.

    The same file as ``dataset_export``'s csv, the metadata columns of every image concerned;
    ``with_masks`` adds each mask as COCO compressed RLE with its size.
    """
    with _read_snapshot():
        metadata_keys = _metadata_keys(Image.objects.filter(pk__in=annotations.values("image_id")))
        rows = _rows(annotations, with_strokes=False)
        yield from exporting.buffered(exporting.csv_pieces(rows, metadata_keys, with_masks=with_masks))


# --- Saliency ----------------------------------------------------------------------


def saliency_etag(*, image: Image, selection: Selection, options: str) -> str:
    """Return an ETag that changes whenever the heat map would: the annotations' versions, the image, the options."""
    versions = annotation_selection(selection=selection, image=image).order_by("id").values_list("id", "version")
    digest = hashlib.sha256(f"{image.sha256}|{options}|{selection.describe()}".encode())
    for pk, version in versions:
        digest.update(f"{pk}:{version};".encode())
    return f'"saliency-{digest.hexdigest()[:32]}"'


def image_saliency(*, image: Image, selection: Selection, sigma: float = 0.0) -> tuple[np.ndarray, int]:
    """Return the image's heat map (float32, in [0, 1]) over the selected annotations, and how many they are."""
    heat = saliency.HeatMap(image.width, image.height)
    annotations = annotation_selection(selection=selection, image=image).order_by("id")
    for pk, mask_rle in annotations.values_list("id", "mask_rle").iterator(chunk_size=200):
        heat.add(masks.rle_decode(mask_rle or _missing_rle(pk, image.width, image.height), image.width, image.height))
    return heat.mean(sigma=sigma), heat.count


# --- Agreement ----------------------------------------------------------------------

_ANSWER_FIELDS = (
    "id",
    "image_id",
    "image__path",
    "image__ground_truth",
    "image__width",
    "image__height",
    "annotator_id",
    "annotator__username",
    "label",
    "mask_rle",
    "active_ms",
)


def _answers(records) -> list[agreement.Answer]:
    answers = []
    for pk, _, _, _, width, height, annotator_id, username, label, mask_rle, active_ms in records:
        counts = mask_rle or _missing_rle(pk, width, height)
        rle = masks.rle_object(counts, width, height)
        answers.append(agreement.Answer(annotator_id, username, label, rle, active_ms))
    return answers


def stats_etag(*, selection: Selection, dataset: Dataset | None = None, image: Image | None = None) -> str:
    """Return an ETag for agreement figures: it changes when a selected annotation is saved, added or
    removed, or an image (its ground truth) changes. Two aggregate queries, no masks read."""
    annotations = annotation_selection(selection=selection, dataset=dataset, image=image)
    facts = annotations.aggregate(n=Count("id"), top=Max("id"), versions=Sum("version"), last=Max("updated_at"))
    images = Image.objects.filter(pk=image.pk) if image is not None else Image.objects.filter(dataset=dataset)
    changed = images.aggregate(n=Count("id"), last=Max("updated_at"))
    choices = (image.dataset if image is not None else dataset).choices
    key = repr((sorted(facts.items()), sorted(changed.items()), choices, selection.describe()))
    return f'"stats-{hashlib.sha256(key.encode()).hexdigest()[:32]}"'


def dataset_stats(*, dataset: Dataset, selection: Selection) -> dict:
    """Return the dataset's agreement and quality figures: overall, per annotator and per image."""
    tally = agreement.DatasetAgreement(dataset.choices)
    annotations = annotation_selection(selection=selection, dataset=dataset)
    values = annotations.order_by("image_id", "annotator_id").values_list(*_ANSWER_FIELDS)
    with _read_snapshot():
        for image_id, group in itertools.groupby(values.iterator(chunk_size=CHUNK_ROWS), key=lambda r: r[1]):
            records = list(group)
            _, _, path, ground_truth, *_ = records[0]
            image = {"id": image_id, "path": path, "ground_truth": ground_truth}
            tally.add_image(image, _answers(records))
    return {"dataset": dataset.pk, "selection": selection.describe(), **tally.result()}


def image_stats(*, image: Image, selection: Selection) -> dict:
    """Return one image's figures, with every pair of annotators and every answer."""
    annotations = annotation_selection(selection=selection, image=image).order_by("annotator_id")
    records = list(annotations.values_list(*_ANSWER_FIELDS))
    answers = _answers(records)
    figures = agreement.image_agreement(answers, ground_truth=image.ground_truth)
    listed = [
        {
            "annotation": record[0],
            "annotator_id": answer.annotator_id,
            "annotator": answer.annotator,
            "label": answer.label,
            "correct": exporting.is_correct(answer.label, image.ground_truth),
            "mask_area": masks.rle_area(answer.rle),
            "active_ms": answer.active_ms,
        }
        for record, answer in zip(records, answers, strict=True)
    ]
    return {
        "image": image.pk,
        "path": image.path,
        "ground_truth": image.ground_truth,
        "selection": selection.describe(),
        **figures,
        "answers": listed,
    }
