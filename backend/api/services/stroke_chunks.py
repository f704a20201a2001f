"""Writes on an annotation's chunked strokes: each incremental save writes in proportion to its change.

Called by ``annotations.annotation_change`` inside its transaction, on an annotation it has locked.
Chunks are append-only (see StrokeChunk): a removal from the end retires chunks at the new version
and writes the kept head of the one it cuts, so every past version's strokes can still be read
(``selectors.strokes.revision_strokes``). Each chunk keeps the mask before it: painting a change
starts from the stored mask, and undoing starts from the checkpoint of the chunk it cuts, so the
cost of an undo is one chunk's strokes whatever the document's length.
"""

import functools
from dataclasses import dataclass

import numpy as np
import orjson
from django.db import connection

from .. import masks
from .. import strokes as strokes_mod
from ..models import Annotation, StrokeChunk
from ..rows import row_insert

# A document moved into chunks (its first incremental save) is cut into chunks of at most this
# many strokes (and of the ink one save may paint), so that undoing into it repaints at most those.
CONVERT_STROKES = 64
# Chunks written per INSERT: a statement's parameters stay far below SQLite's and PostgreSQL's limits.
INSERT_BATCH = 500


@dataclass
class MaskState:
    """The mask after a step of a change: its RLE and area, and the array when it is at hand."""

    rle: str
    area: int
    array: np.ndarray | None = None

    def pixels(self, width: int, height: int) -> np.ndarray:
        if self.array is None:
            self.array = masks.rle_decode(self.rle, width, height)
        return self.array


def _text(strokes: list[dict]) -> str:
    """Return validated strokes as compact JSON text (orjson: a tenth of json.dumps's time on thousands of floats)."""
    return orjson.dumps(strokes).decode()


def _points(strokes: list[dict]) -> int:
    return sum(len(stroke["points"]) for stroke in strokes)


def chunks_convert(annotation: Annotation) -> None:
    """Move the strokes of the annotation's row into chunks (as of its version), checkpoints included.

    A document that fits in one chunk (its strokes and its ink) becomes that chunk, its checkpoint
    the empty mask: the stored mask stands and nothing is painted. A larger one is painted into
    its chunks once (``chunks_paint``), its last stroke a chunk of its own.
    """
    strokes = annotation.strokes
    if len(_runs(strokes, annotation.image, alone_last=False)) <= 1 and annotation.mask_rle:
        image = annotation.image
        empty = MaskState(_empty_rle(image.width, image.height), 0)
        chunks = [_chunk(0, strokes, empty, annotation.version)] if strokes else []  # never a chunk of none
    else:
        chunks, mask = chunks_paint(strokes, annotation.image, version=annotation.version)
        annotation.mask_rle = masks.rle_encode(mask)
        annotation.mask_area = int(np.count_nonzero(mask))
    chunks_insert(annotation, chunks)
    annotation.strokes = []
    annotation.chunked = True
    annotation.stroke_count = len(strokes)
    annotation.point_count = _points(strokes)


def chunks_paint(
    strokes: list[dict], image, *, version: int, within_ink: bool = False
) -> tuple[list[StrokeChunk], np.ndarray]:
    """Paint validated strokes from the empty mask; return the chunks they are cut into (not yet written, each
    with its checkpoint), and the mask of them all.

    The chunks are as ``_runs`` cuts them, the last stroke a chunk of its own: undoing it, the
    most common undo, starts from its checkpoint and paints nothing. ``within_ink``: the strokes
    together hold no more ink than one save may paint (the caller checked), so only their number cuts them.
    """
    mask = _empty(image)
    chunks, state = [], MaskState(_empty_rle(image.width, image.height), 0)
    for start, part in _runs(strokes, image, alone_last=True, within_ink=within_ink):
        if chunks:
            state = MaskState(masks.rle_encode(mask), int(np.count_nonzero(mask)))
        chunks.append(_chunk(start, part, state, version))
        strokes_mod.paint(mask, part)
    return chunks, mask


def chunks_insert(annotation: Annotation, chunks: list[StrokeChunk]) -> None:
    """Write chunks (from ``chunks_paint``) as the annotation's, in one statement."""
    for chunk in chunks:
        chunk.annotation = annotation
    for first in range(0, len(chunks), INSERT_BATCH):
        row_insert(*chunks[first : first + INSERT_BATCH])


def _empty(image) -> np.ndarray:
    return np.zeros((image.height, image.width), dtype=bool)


@functools.lru_cache(maxsize=64)
def _empty_rle(width: int, height: int) -> str:
    """Return the RLE of the empty mask of this size (the first chunk's checkpoint), encoded once per size."""
    return masks.rle_encode(np.zeros((height, width), dtype=bool))


def _chunk(start: int, strokes: list[dict], before: MaskState, version: int) -> StrokeChunk:
    """Return an unsaved chunk of these strokes from ``start``, painted onto the mask ``before``."""
    return StrokeChunk(
        start=start,
        count=len(strokes),
        points=_points(strokes),
        strokes=_text(strokes),
        mask_before=before.rle,
        area_before=before.area,
        created_version=version,
    )


def _runs(strokes: list[dict], image, *, alone_last: bool, within_ink: bool = False) -> list[tuple[int, list[dict]]]:
    """Return (start, strokes) of the chunks a document is cut into: at most CONVERT_STROKES strokes and, but for
    a stroke alone, the ink one save may paint (``Limits.max_ink``), so that undoing into one stays bounded.

    ``alone_last``: the last stroke is a chunk of its own (when there are others). ``within_ink``:
    the strokes hold no more ink than that in all (their ink is not counted again).
    """
    if alone_last and len(strokes) > 1:
        head = _runs(strokes[:-1], image, alone_last=False, within_ink=within_ink)
        return [*head, (len(strokes) - 1, strokes[-1:])]
    if len(strokes) <= 1:
        return [(0, strokes)] if strokes else []
    limit = strokes_mod.DEFAULT_LIMITS.max_ink
    runs, start, held = [], 0, 0
    for k, stroke in enumerate(strokes):
        ink = 0 if within_ink else strokes_mod.ink([stroke], image.width, image.height)
        if k > start and (k - start >= CONVERT_STROKES or held + ink > limit):
            runs.append((start, strokes[start:k]))
            start, held = k, 0
        held += ink
    if start < len(strokes):
        runs.append((start, strokes[start:]))
    return runs


def chunks_retire(annotation: Annotation, *, version: int) -> None:
    """Retire every live chunk at ``version``: the annotation's row holds its strokes again."""
    StrokeChunk.objects.filter(annotation=annotation, removed_version__isnull=True).update(removed_version=version)
    annotation.chunked = False


def chunks_remove(annotation: Annotation, count: int, *, version: int) -> MaskState:
    """Remove the last ``count`` strokes (at least one) as of ``version``; return the mask without them."""
    keep = annotation.stroke_count - count
    table, live = StrokeChunk._meta.db_table, "annotation_id = %s AND removed_version IS NULL"
    # The chunk holding stroke `keep` (the one cut) and every chunk after it, retired in one statement
    # of two index scans however many chunks there are. Only the cut chunk's checkpoint and strokes
    # come back. Raw, as the save's locks: compiling the ORM's queries cost more than running them.
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET removed_version = %s WHERE {live} AND start >= "
            f"(SELECT MAX(start) FROM {table} WHERE {live} AND start <= %s) RETURNING start, points, "
            "CASE WHEN start <= %s THEN mask_before END, CASE WHEN start <= %s THEN area_before END, "
            "CASE WHEN start < %s THEN strokes END",
            [version, annotation.pk, annotation.pk, keep, keep, keep, keep],
        )
        cut = sorted(cursor.fetchall(), key=lambda row: row[0])
    start, _, mask_before, area_before, strokes = cut[0]
    annotation.point_count -= sum(row[1] for row in cut)
    annotation.stroke_count = start
    state = MaskState(mask_before, area_before)
    if start < keep:
        # The cut chunk's head is kept as a chunk of its own, appended onto the chunk's checkpoint.
        head = orjson.loads(strokes)[: keep - start]
        state = chunks_append(annotation, head, version=version, before=state)
    return state


def chunks_append(annotation: Annotation, strokes: list[dict], *, version: int, before: MaskState) -> MaskState:
    """Append validated strokes as of ``version``, painted onto the mask ``before``; return the mask.

    One chunk, or, for several strokes, two: the last stroke a chunk of its own, so that undoing
    it starts from its checkpoint and paints nothing (one more RLE to encode here, and no
    stroke to paint again there).
    """
    image = annotation.image
    # A copy: the array may be a decoded checkpoint the caller still describes by its RLE.
    mask = before.pixels(image.width, image.height).copy()
    parts = [strokes] if len(strokes) == 1 else [strokes[:-1], strokes[-1:]]
    chunks, state, start = [], before, annotation.stroke_count
    for part in parts:
        if chunks:
            state = MaskState(masks.rle_encode(mask), int(np.count_nonzero(mask)))
        chunks.append(_chunk(start, part, state, version))
        strokes_mod.paint(mask, part)
        start += len(part)
    chunks_insert(annotation, chunks)
    annotation.stroke_count += len(strokes)
    annotation.point_count += _points(strokes)
    return MaskState(masks.rle_encode(mask), int(np.count_nonzero(mask)), mask)
