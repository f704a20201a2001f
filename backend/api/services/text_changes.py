"""The incremental save that only types on: one locked read and two or three small writes.

Most of an annotator's saves change nothing but the text (typing at its end) and the active
time. Such a change touches no stroke, keeps no revision and moves no queue counter, yet the
general path (``annotations.annotation_change``) locks and reads the three rows one query
each, builds the model's update through the ORM and goes through the queue's bookkeeping.
Here the same rows are locked, in the same order (the annotator's progress, their
annotation, their assignment: see ``queue``'s docstring), by one statement, and written by
UPDATEs (the lease's only when due) that store exactly what the general path stores (tests compare the two).

Anything else (strokes, a label or status given that differs, a text that does not start with
the stored one, another version, an annotation not yet chunked, a submitted image, an
assignment not leased) is left to the general path: ``text_change_apply`` answers None
having written nothing, inside the caller's transaction.
"""

from datetime import timedelta

from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone

from .. import strokes as strokes_mod
from ..models import Annotation, AnnotatorProgress, Assignment, Image
from ..rows import row_read, row_update
from ..tracing import traced
from .queue.leases import lease_renewal_due

# What a change that leaves the content as it is may still write (annotations._set_metadata).
METADATA_FIELDS = ["active_ms", "client", "updated_at"]

# What the path checks, writes and answers (AnnotationSummarySerializer); the strokes' columns stay unread.
_ANNOTATION_COLUMNS = [
    *("id", "version", "last_op", "label", "text", "status", "active_ms", "client", "chunked", "stroke_count"),
    *("started_at", "submitted_at", "mask_area", "created_at", "updated_at"),
]


def is_text_change(change) -> bool:
    """Return True if the change may be one this path applies: no strokes, no new status but draft."""
    return not change.remove and not change.append and change.fields.get("status", "draft") == "draft"


def _locked(image: Image, annotator: User) -> Annotation | None:
    """Return the annotation, with its progress and assignment fields, the three rows locked; or None.

    None when any of the three rows is missing (the general path creates them).
    """
    lock = " FOR UPDATE OF p, a, s" if connection.features.has_select_for_update_of else ""
    a_columns = ", ".join(f"a.{name}" for name in _ANNOTATION_COLUMNS)
    sql = (
        f"SELECT {a_columns}, p.id AS progress_id, p.active_ms AS progress_active_ms, s.id AS assignment__id, "
        "s.status AS assignment__status, s.leased_until AS assignment__leased_until "
        f"FROM {AnnotatorProgress._meta.db_table} p "
        f"JOIN {Annotation._meta.db_table} a ON a.image_id = %s AND a.annotator_id = p.annotator_id "
        f"JOIN {Assignment._meta.db_table} s ON s.image_id = a.image_id AND s.annotator_id = p.annotator_id "
        f"WHERE p.dataset_id = %s AND p.annotator_id = %s{lock}"
    )
    annotation = row_read(
        Annotation, sql, [image.pk, image.dataset_id, annotator.pk], related=(("assignment", Assignment),)
    )
    if annotation is not None:
        annotation.image, annotation.annotator = image, annotator  # the caller's: not read again
    return annotation


def _applies(annotation: Annotation, change, base_version: int) -> bool:
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
        and annotation.assignment.status == Assignment.Status.LEASED
        and label == annotation.label
        and text.startswith(annotation.text)
        and annotation.stroke_count <= strokes_mod.DEFAULT_LIMITS.max_strokes
    )


@traced("save a change: the text alone")
def text_change_apply(
    *, image: Image, annotator: User, change, base_version: int, active_ms: int | None, client: dict | None
) -> tuple[Annotation, bool] | None:
    """Apply a change of the text alone as ``annotation_change`` would; return (annotation, changed), or None.

    Call inside the caller's transaction, before it takes any lock. None: the change is not one
    this path applies (nothing is written); the rows stay locked for the general path.
    """
    annotation = _locked(image, annotator)
    if annotation is None or not _applies(annotation, change, base_version):
        return None
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
    assignment = annotation.assignment
    if lease_renewal_due(assignment.leased_until, dataset=image.dataset, now=now):
        assignment.skip_reason = ""
        assignment.leased_until = now + timedelta(minutes=image.dataset.lease_minutes)
        row_update(assignment, ["status", "leased_until", "skip_reason", "updated_at"])
    added = max(0, annotation.active_ms - before_ms)
    progress = AnnotatorProgress(pk=annotation.progress_id, active_ms=annotation.progress_active_ms + added)
    progress.last_active_at = now
    row_update(progress, ["active_ms", "last_active_at"])
    return annotation, changed
