"""Decode annotation rows into what the import stores, in worker processes when there are many.

Decoding (the PNG inflated and thresholded, the SVG flattened and rasterized, the strokes
traced and checked) is nearly all of an import's CPU, and most of it is Python that holds the
GIL, so threads do not run it in parallel: ``RowDecoder`` runs it in a process per core once an
import has enough rows to pay for starting them (``POOL_FROM``), and in this process otherwise.
The workers only compute; the caller writes, in its one transaction. What crosses back is small
(``Decoded``: the mask as its RLE, not as an array). Pure: no ORM, no HTTP.
"""

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from .. import masks
from .. import strokes as strokes_mod
from . import drawing
from .rows import OriginalAnnotation, OriginalInvalid

# Rows to decode from which worker processes pay off: each starts in about a second (NumPy,
# Pillow, pycocotools imported anew), a row decodes in a few milliseconds.
POOL_FROM = 400
# Rows sent to a worker at a time: fewer round trips, and still a batch spread over every worker.
CHUNK = 25


def cores() -> int:
    """Return the number of cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass
class Decoded:
    """What one annotation row becomes: its strokes document, its mask as RLE, and how they were found."""

    strokes: list[dict]
    mask_rle: str
    mask_area: int
    png: bytes
    device_pixel_ratio: float | None
    strokes_from: str
    svg_iou: float | None
    svg_pixels_differing: int | None
    started_ms: float | None
    ended_ms: float | None
    active_ms: int
    notes: list[str] = field(default_factory=list)


def decode_row(row: OriginalAnnotation, width: int, height: int) -> Decoded:
    """Return what a row becomes on an image of width x height; raise OriginalInvalid naming the row."""
    try:
        recovery = drawing.recover(
            row_id=row.id,
            where=row.where,
            png_data_url=row.annotation,
            svg=row.svg,
            times=row.times,
            width=width,
            height=height,
        )
    except drawing.RowInvalid as error:
        raise OriginalInvalid(
            f"{error} Nothing was imported. Fix the row in the original, or leave it out: --skip-annotation {row.id}"
        ) from None
    try:
        strokes_mod.validate_strokes(recovery.strokes, width=width, height=height)
    except strokes_mod.StrokesInvalid as error:
        # Only a mask too intricate for the editing limits gets here: it is kept whole, and can be
        # viewed and exported; a save from the app would be refused.
        recovery.notes.append(f"its strokes are past the app's editing limits ({error}); kept whole")
    # The strokes give exactly this mask by construction (drawing.recover, strokes.mask_lassos; the tests
    # check it on every fixture row and on random masks), so it is stored without rasterizing them again.
    return Decoded(
        strokes=recovery.strokes,
        mask_rle=masks.rle_encode(recovery.mask),
        mask_area=int(np.count_nonzero(recovery.mask)),
        png=recovery.png,
        device_pixel_ratio=recovery.device_pixel_ratio,
        strokes_from=recovery.strokes_from,
        svg_iou=recovery.svg_iou,
        svg_pixels_differing=recovery.svg_pixels_differing,
        started_ms=recovery.started_ms,
        ended_ms=recovery.ended_ms,
        active_ms=recovery.active_ms,
        notes=recovery.notes,
    )


def decode_rows(jobs: list[tuple[OriginalAnnotation, int, int]]) -> list[Decoded]:
    """Return ``decode_row`` of each (row, width, height), in order: one worker's share of a batch."""
    return [decode_row(row, width, height) for row, width, height in jobs]


class RowDecoder:
    """Decode batches of rows, in worker processes when ``rows`` (the rows to come) makes them pay off.

    Use as a context manager; ``submit(jobs)`` returns a callable giving the batch's ``Decoded``
    in order (raising the first row's OriginalInvalid), so the caller can write one batch while
    the next decodes.
    """

    def __init__(self, rows: int, *, workers: int | None = None):
        self.workers = cores() if workers is None else workers
        self.parallel = self.workers > 1 and rows >= POOL_FROM
        self.pool = None  # started with the first rows to decode: a second, unchanged import needs none

    def __enter__(self) -> "RowDecoder":
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def submit(self, jobs: list[tuple[OriginalAnnotation, int, int]]) -> Callable[[], list[Decoded]]:
        """Start decoding the batch; return a callable that waits for it and returns its ``Decoded``."""
        if self.parallel and jobs and self.pool is None:
            # spawn, not fork: the caller holds a database connection in a transaction, which a
            # forked child must never share; the workers import only this pure package.
            self.pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
        if self.pool is None:
            done: Future = Future()
            try:
                done.set_result(decode_rows(jobs))
            except OriginalInvalid as error:
                done.set_exception(error)
            return done.result
        futures = [self.pool.submit(decode_rows, jobs[k : k + CHUNK]) for k in range(0, len(jobs), CHUNK)]
        return lambda: [decoded for future in futures for decoded in future.result()]
