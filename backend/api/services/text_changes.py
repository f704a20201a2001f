"""The incremental save that only types on: two or three small writes.

Most of an annotator's saves change nothing but the text (typing at its end) and the active
time. Such a change touches no stroke, keeps no revision and moves no queue counter, yet the
general path (``annotations.annotation_change``) builds the model's update through the ORM
and goes through the queue's bookkeeping. Here the three rows that ``queue.save_locks`` locked
(the annotator's progress, their annotation, their assignment) are written by UPDATEs (the
lease's only when due) that store exactly what the general path stores (tests compare the two).

Anything else (strokes, a label or status given that differs, a text that does not start with
the stored one, another version, an annotation not yet chunked, a submitted image, an
assignment not leased) is left to the general path: ``text_change_apply`` answers None
having written nothing, inside the caller's transaction.
"""

from datetime import timedelta

from django.utils import timezone

from .. import strokes as strokes_mod
from ..models import Annotation, AnnotatorProgress, Assignment
from ..rows import row_update
from ..tracing import traced
from .queue.leases import lease_renewal_due

# What a change that leaves the content as it is may still write (annotations._set_metadata).
METADATA_FIELDS = ["active_ms", "client", "updated_at"]


def is_text_change(change) -> bool:
    """Return True if the change may be one this path applies: no strokes, no new status but draft."""
    return not change.remove and not change.append and change.fields.get("status", "draft") == "draft"


def _applies(annotation: Annotation, assignment: Assignment, change, base_version: int) -> bool:
    """Return True if the general path would store nothing this path does not: see the module's docstring.

    A stored label the dataset no longer offers, or strokes past the limits, are the general path's
    to refuse (400), as they are for any change.
    """
    label = change.fields.get("label", annotation.label)
    text = change.fields.get("text", annotation.text)
    return (
        annotation.version == base_version
        and (label is None or label in annotation.image.dataset.choices)
        and annotation.chunked
        and annotation.status == Annotation.Status.DRAFT
        and assignment.status == Assignment.Status.LEASED
        and label == annotation.label
        and text.startswith(annotation.text)
        and annotation.stroke_count <= strokes_mod.DEFAULT_LIMITS.max_strokes
    )


@traced("save a change: the text alone")
def text_change_apply(
    *,
    progress: AnnotatorProgress,
    annotation: Annotation,
    assignment: Assignment,
    change,
    base_version: int,
    active_ms: int | None,
    client: dict | None,
) -> tuple[Annotation, bool] | None:
    """Apply a change of the text alone as ``annotation_change`` would; return (annotation, changed), or None.

    Call inside the caller's transaction with the three rows ``queue.save_locks`` locked. None:
    the change is not one this path applies (nothing is written); the rows stay locked for the
    general path.
    """
    if not _applies(annotation, assignment, change, base_version):
        return None
    dataset = annotation.image.dataset
    now = timezone.now()
    before_ms = annotation.active_ms
    text = change.fields.get("text", annotation.text)
    changed = text != annotation.text
    # As ``annotations._set_metadata``: the active time only grows, client info is kept when sent.
    metadata = bool(client and client != annotation.client)
    if active_ms is not None and active_ms > annotation.active_ms:
        annotation.active_ms, metadata = active_ms, True
    if client:
        annotation.client = client
    if changed:
        annotation.text, annotation.version, annotation.last_op = text, annotation.version + 1, change.op
        annotation.submitted_at = None
        row_update(annotation, ["text", "version", "last_op", "submitted_at", *METADATA_FIELDS])
    elif metadata:
        row_update(annotation, METADATA_FIELDS)
    # As ``queue.annotation_saved`` does for a draft whose assignment is leased: renew the lease, count the time.
    if lease_renewal_due(assignment.leased_until, dataset=dataset, now=now):
        assignment.skip_reason = ""
        assignment.leased_until = now + timedelta(minutes=dataset.lease_minutes)
        row_update(assignment, ["status", "leased_until", "skip_reason", "updated_at"])
    progress.active_ms += max(0, annotation.active_ms - before_ms)
    progress.last_active_at = now
    row_update(progress, ["active_ms", "last_active_at"])
    return annotation, changed
