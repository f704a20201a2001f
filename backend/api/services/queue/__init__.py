"""The assignment queue: handing out images under leases, skips, and the counters behind progress.

Four rooms: ``handout`` (what ``next`` gives), ``picker`` (which new image: the walk and taking a
slot), ``leases`` (the annotator's lock, slots, leases expiring, skips, keeping the queue in step
with saves) and ``counters`` (rebuilding them). Its reads (whose work counts, shares, checking the
counters) are ``selectors.queue``. Other code uses what this module exports, nothing else.

What the counters hold, kept true in the same transaction as every change (``selectors.queue_check``
verifies them; ``queue_recount`` rebuilds them):

- ``Image.reserved_count``: non-test annotators whose assignment of the image is ``leased`` or
  ``submitted``; ``Image.submitted_count``: those who submitted it.
- ``AnnotatorProgress``: the annotator's submitted and skipped assignments and active time.

Why no image ever goes past its target: a slot is only ever taken by
``UPDATE image SET reserved_count = reserved_count + 1 WHERE id = %s AND reserved_count < k``.
On PostgreSQL the UPDATE takes the row lock and re-reads the latest committed row before
testing the condition, so two transactions can never both take the last slot; on SQLite the
whole transaction holds the database's single write lock (``BEGIN IMMEDIATE``). The candidate
image is first picked with ``FOR UPDATE SKIP LOCKED``, so concurrent annotators fan out over
different images instead of queueing behind one.

Locks are always taken in one order: the annotator's progress row, their annotation, their
assignments (leases in expiry order, as ``release_expired_leases`` takes them), images, the
dataset row (always last, see ``pool_changed``). A transaction that waits for an image holds
no other image (pickers drop leftovers with a savepoint; images leased ahead are taken with
SKIP LOCKED, never waited for); those that wait while holding several (releasing expired
leases, recounting) take them in id order. So no two transactions can wait for each other in a
cycle; the concurrency tests on PostgreSQL check it.
"""

from .counters import pool_changed, queue_recount, recount_dataset, user_datasets_recount
from .handout import MAX_AHEAD, Handout, queue_next
from .leases import (
    ImageUnavailable,
    annotation_saved,
    progress_lock,
    queue_skip,
    release_expired_leases,
    save_locks,
)

__all__ = [
    "MAX_AHEAD",
    "Handout",
    "ImageUnavailable",
    "annotation_saved",
    "pool_changed",
    "progress_lock",
    "queue_next",
    "queue_recount",
    "queue_skip",
    "recount_dataset",
    "release_expired_leases",
    "save_locks",
    "user_datasets_recount",
]
