"""Reads of a strokes document, wherever its strokes are kept: in the annotation's row, or chunked.

An annotation saved incrementally keeps its strokes as StrokeChunk rows (``Annotation.chunked``);
a revision of such an annotation refers to the chunks live at its version. Everything that shows or
exports strokes reads them through here, so the document is the same from the outside either way.
The JSON is read and written with orjson: a document holds thousands of floats, which json's
encoder and decoder take about ten and five times as long over.
"""

from collections.abc import Iterable

import orjson
from django.db.models import Q

from ..models import Annotation, AnnotationRevision, StrokeChunk


def _joined(texts: Iterable[str]) -> str:
    """Return one JSON list of the strokes of the chunks' JSON lists, in order (none is empty)."""
    return "[" + ",".join(text[1:-1] for text in texts) + "]"


def _live(annotation_id: int):
    return StrokeChunk.objects.filter(annotation_id=annotation_id, removed_version__isnull=True).order_by("start")


def annotation_strokes_json(annotation: Annotation) -> str:
    """Return the annotation's strokes as JSON text."""
    if not annotation.chunked:
        return orjson.dumps(annotation.strokes).decode()
    return _joined(_live(annotation.pk).values_list("strokes", flat=True))


def annotation_strokes(annotation: Annotation) -> list[dict]:
    """Return the annotation's strokes, as in its strokes document."""
    if not annotation.chunked:
        return annotation.strokes
    return orjson.loads(annotation_strokes_json(annotation))


def revision_strokes(revision: AnnotationRevision) -> list[dict]:
    """Return a revision's strokes: its own, or its annotation's chunks as they stood at its version."""
    if not revision.chunked:
        return revision.strokes
    version = revision.version
    chunks = (
        StrokeChunk.objects.filter(annotation_id=revision.annotation_id, created_version__lte=version)
        .filter(Q(removed_version__isnull=True) | Q(removed_version__gt=version))
        .order_by("start")
    )
    return orjson.loads(_joined(chunks.values_list("strokes", flat=True)))


def stored_strokes(owner: Annotation | AnnotationRevision) -> list[dict]:
    """Return the strokes of an annotation or of a revision."""
    if isinstance(owner, AnnotationRevision):
        return revision_strokes(owner)
    return annotation_strokes(owner)


def chunked_strokes_json(annotation_ids: Iterable[int]) -> dict[int, str]:
    """Return the strokes as JSON text of each of these chunked annotations, in one query (for exports)."""
    texts: dict[int, list[str]] = {}
    chunks = StrokeChunk.objects.filter(annotation_id__in=list(annotation_ids), removed_version__isnull=True)
    for annotation_id, text in chunks.order_by("annotation_id", "start").values_list("annotation_id", "strokes"):
        texts.setdefault(annotation_id, []).append(text)
    return {annotation_id: _joined(parts) for annotation_id, parts in texts.items()}


def with_chunked_strokes(rows: Iterable[dict], *, batch: int, key: str = "strokes_json") -> Iterable[dict]:
    """Yield export rows (with ``id``, ``chunked`` and ``key``, the row's strokes as JSON text), the
    strokes of chunked annotations filled in from their chunks: one query a batch of rows."""
    pending: list[dict] = []
    for row in rows:
        pending.append(row)
        if len(pending) >= batch:
            yield from _filled(pending, key)
            pending = []
    yield from _filled(pending, key)


def _filled(rows: list[dict], key: str) -> Iterable[dict]:
    texts = chunked_strokes_json([row["id"] for row in rows if row.pop("chunked")])
    for row in rows:
        # A chunked annotation with no live chunk has no strokes: its row's own, [], stand.
        row[key] = texts.get(row["id"], row[key])
        yield row
