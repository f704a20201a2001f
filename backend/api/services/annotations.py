"""Writes on annotations: saving the strokes document with its version, and restoring revisions.

One module, just over 500 lines, because a whole-document save, a change and a restore share one
transaction's steps (the locks, the version check, the revision kept, the mask painted and the
queue's bookkeeping): split, each would import the others' private steps. The text-only change's
short path (``text_changes``) and the chunks (``stroke_chunks``) are apart.
"""

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from .. import masks
from .. import strokes as strokes_mod
from ..models import Annotation, AnnotationRevision, Dataset, Image
from ..rows import row_read, row_update
from ..selectors.strokes import stored_strokes
from ..tracing import traced
from . import queue, stroke_chunks, text_changes
from .datasets import dataset_missing_parts


class VersionConflict(Exception):
    """The save was based on an older version than the stored one; ``current`` is the stored annotation."""

    def __init__(self, current: Annotation, base_version: int):
        super().__init__(f"based on version {base_version}, but the stored version is {current.version}")
        self.current = current
        self.base_version = base_version


@dataclass(frozen=True)
class AnnotationContent:
    """The parts of an annotation that make its version: what the annotator drew, chose and typed."""

    strokes: list
    label: str | None
    text: str
    status: str

    @staticmethod
    def of_fields(annotation) -> tuple:
        """Return the annotation's (label, text, status): its content but the strokes."""
        return annotation.label, annotation.text, annotation.status

    @classmethod
    def of(cls, annotation) -> "AnnotationContent":
        """Return the content of an annotation or of a revision (reading its chunks if it has them)."""
        return cls(stored_strokes(annotation), annotation.label, annotation.text, annotation.status)

    def appends_to(self, old: "AnnotationContent") -> bool:
        """Return True if these strokes are ``old``'s strokes, then perhaps more (equal ones included)."""
        n = len(old.strokes)
        return len(self.strokes) >= n and self.strokes[:n] == old.strokes

    def loses(self, old: "AnnotationContent", *, appends: bool | None = None) -> bool:
        """Return True if replacing ``old`` by this content loses something ``old`` had.

        Adding strokes, and typing at the end of the text, lose nothing: the old content
        can be read off the new one. Undo, clear, a changed answer or deleted text do.
        ``appends``: the caller knows whether these strokes begin with the old ones (spares comparing them again).
        """
        if appends is None:
            appends = self.appends_to(old)
        return not appends or (old.label is not None and self.label != old.label) or not self.text.startswith(old.text)


@traced("mask: encode as RLE")
def mask_encode(mask: np.ndarray) -> str:
    """Return the COCO compressed RLE counts of a boolean mask."""
    return masks.rle_encode(mask)


# The fields a save changes besides the strokes and what is derived from them (STROKE_FIELDS).
CONTENT_FIELDS = ["label", "text", "status", "submitted_at", "version", "active_ms", "client", "updated_at"]
STROKE_FIELDS = ["strokes", "chunked", "stroke_count", "mask_area", "mask_rle"]
# Checked before a save gets to full_clean: the image was read in this request, the annotator is
# the caller, and the strokes passed strokes.validate_strokes. full_clean would make a query for
# each of the first two and encode all the strokes to JSON again (~60 KB) to see that it can.
CHECKED_BEFORE = ["image", "annotator", "strokes"]


@traced("save: set the content (mask, revision)")
def _set_content(
    annotation: Annotation, content: AnnotationContent, *, now: datetime, same_strokes: bool = False, painted: int = 0
) -> None:
    """Put content into the annotation with its derived fields (mask, counts, submission time).

    ``same_strokes``: the annotation holds these strokes already, so its mask stays as it is.
    ``painted``: the stored mask is that of the content's first ``painted`` strokes (the stored
    ones, which the content appends to); only the rest is painted, onto it.
    """
    if not same_strokes:
        _set_strokes(annotation, content.strokes, painted=painted)
    annotation.label = content.label
    annotation.text = content.text
    if content.status == Annotation.Status.SUBMITTED and annotation.status != Annotation.Status.SUBMITTED:
        annotation.submitted_at = now
    elif content.status == Annotation.Status.DRAFT:
        annotation.submitted_at = None
    annotation.status = content.status


def _set_strokes(annotation: Annotation, strokes: list, *, painted: int) -> None:
    """Put the strokes into the annotation with their mask and counts, painting only those after ``painted``."""
    image = annotation.image
    if painted and annotation.chunked:
        # Strokes appended to chunks: one chunk more, painted onto the stored mask, as a PATCH does.
        before = stroke_chunks.MaskState(annotation.mask_rle, annotation.mask_area)
        state = stroke_chunks.chunks_append(
            annotation, strokes[painted:], version=annotation.version + 1, before=before
        )
        annotation.mask_rle, annotation.mask_area = state.rle, state.area
        return
    if annotation.chunked:  # the row holds the strokes again; the chunks stay for the revisions
        stroke_chunks.chunks_retire(annotation, version=annotation.version + 1)
    if painted:
        mask = strokes_mod.paint(masks.rle_decode(annotation.mask_rle, image.width, image.height), strokes[painted:])
    else:
        mask = strokes_mod.rasterize(strokes, image.width, image.height)
    annotation.strokes = strokes
    annotation.stroke_count = len(strokes)
    annotation.mask_area = int(mask.sum())
    annotation.mask_rle = mask_encode(mask)


def _check_ink(strokes: list, image: Image) -> None:
    """Refuse a save that would paint more ink than one request may (``Limits.max_ink``)."""
    limit = strokes_mod.DEFAULT_LIMITS.max_ink
    ink = strokes_mod.ink(strokes, image.width, image.height)
    if ink > limit:
        message = (
            f"this save paints {ink:,} units of ink (image rows crossed, summed over the segments of the strokes it "
            f"adds); one save may paint at most {limit:,}. Send the strokes in several saves: the first ones, then "
            "the rest appended (each save paints only the strokes it adds to those stored)."
        )
        raise ValidationError({"strokes": ValidationError(message, code="too_much_ink")})


def _check_label(dataset: Dataset, label: str | None) -> None:
    if label is not None and label not in dataset.choices:
        allowed = ", ".join(dataset.choices) if dataset.choices else "nothing (this dataset has no choices)"
        message = f"label must be one of {allowed}, or null; got {label!r}."
        raise ValidationError({"label": ValidationError(message, code="invalid_choice")})


def _check_complete(annotation: Annotation) -> None:
    """Refuse a submission that lacks what the dataset requires."""
    if annotation.status != Annotation.Status.SUBMITTED:
        return
    missing = dataset_missing_parts(
        annotation.image.dataset, label=annotation.label, text=annotation.text, mask_area=annotation.mask_area
    )
    if missing:
        message = "To submit this image, " + "; ".join(missing) + "."
        raise ValidationError({"status": ValidationError(message, code="incomplete")})


@traced("save (one transaction)")
@transaction.atomic
def annotation_save(
    *,
    image: Image,
    annotator: User,
    content: AnnotationContent,
    base_version: int,
    started_at: datetime | None = None,
    active_ms: int | None = None,
    client: dict | None = None,
) -> tuple[Annotation, bool]:
    """Create or update the annotator's annotation of the image. Return (annotation, changed).

    ``base_version`` is the version the client started from (0 for a new annotation).
    Sending content equal to what is stored changes nothing, whatever the base version,
    so a retried save is harmless. Otherwise a base version older than the stored one
    raises VersionConflict: two tabs never silently overwrite each other. A save that
    would lose content keeps the previous state as an AnnotationRevision.

    Every save also keeps the assignment queue in step (``queue.annotation_saved``): a
    draft renews the annotator's lease, a submission counts towards the image's target,
    and saving an image that already has every annotator it needs raises ImageUnavailable.
    """
    # The annotator's queue lock comes first, as in every queue operation (see services/queue/__init__.py).
    progress = queue.progress_lock(dataset=image.dataset, annotator=annotator)
    annotation, changed, before = _save(
        image=image,
        annotator=annotator,
        content=content,
        base_version=base_version,
        started_at=started_at,
        active_ms=active_ms,
        client=client,
    )
    queue.annotation_saved(annotation=annotation, before=before, progress=progress)
    return annotation, changed


def _save(
    *,
    image: Image,
    annotator: User,
    content: AnnotationContent,
    base_version: int,
    started_at: datetime | None,
    active_ms: int | None,
    client: dict | None,
) -> tuple[Annotation, bool, dict | None]:
    """Save as ``annotation_save`` says; return (annotation, changed, its status and active_ms before, or None)."""
    _check_label(image.dataset, content.label)
    now = timezone.now()
    annotation = _locked_annotation(image, annotator)
    if annotation is None:
        annotation = Annotation(image=image, annotator=annotator, version=1, started_at=started_at or now)
        _check_ink(content.strokes, image)
        _set_content(annotation, content, now=now)
        _check_complete(annotation)
        _set_metadata(annotation, active_ms=active_ms, client=client)
        annotation.full_clean(exclude=CHECKED_BEFORE, validate_constraints=False)  # the database enforces those
        try:
            with transaction.atomic():
                annotation.save()
            return annotation, True, None
        except IntegrityError:
            # Another request created it between our read and our insert: treat this one as an update.
            annotation = _locked_annotation(image, annotator)
    before = {"status": annotation.status, "active_ms": annotation.active_ms}
    old = AnnotationContent.of(annotation)
    # Compared once: a document holds thousands of points. Typing, answering and submitting keep them.
    same_strokes = content.strokes == old.strokes
    if same_strokes and (content.label, content.text, content.status) == (old.label, old.text, old.status):
        if _set_metadata(annotation, active_ms=active_ms, client=client):
            annotation.save(update_fields=["active_ms", "client", "updated_at"])
        return annotation, False, before
    if base_version != annotation.version:
        raise VersionConflict(annotation, base_version)
    appends = same_strokes or content.appends_to(old)
    # The stored mask paints the stored strokes: when the content appends to them, only the rest is painted.
    painted = len(old.strokes) if appends and annotation.mask_rle else 0
    if not same_strokes:
        _check_ink(content.strokes[painted:], image)  # what this save paints, before anything is written
    if content.loses(old, appends=appends):
        _keep_as_revision(annotation, replaced_by=annotator, now=now)  # before the row changes
    _set_content(annotation, content, now=now, same_strokes=same_strokes, painted=painted)
    _check_complete(annotation)
    _set_metadata(annotation, active_ms=active_ms, client=client)
    annotation.version += 1
    annotation.full_clean(exclude=CHECKED_BEFORE, validate_constraints=False)
    # Unchanged strokes are not written again: ~60 KB of JSON to encode, and for PostgreSQL to parse and store.
    annotation.save(update_fields=CONTENT_FIELDS if same_strokes else CONTENT_FIELDS + STROKE_FIELDS + ["point_count"])
    return annotation, True, before


@dataclass(frozen=True)
class AnnotationChange:
    """An incremental save: ``remove`` strokes from the end, then ``append`` these (validated) ones.

    ``fields`` holds those of label, text and status that the change sets; ``op`` names the
    change, so that a retry of the last one applied is answered without applying it again.
    """

    remove: int = 0
    append: list = field(default_factory=list)
    fields: dict = field(default_factory=dict)
    op: str = ""

    def content_after(self, annotation: Annotation) -> tuple:
        """Return (label, text, status) once the change is applied to the annotation."""
        return tuple(self.fields.get(name, getattr(annotation, name)) for name in ("label", "text", "status"))


@traced("save a change (one transaction)")
@transaction.atomic
def annotation_change(
    *,
    image: Image,
    annotator: User,
    change: AnnotationChange,
    base_version: int,
    started_at: datetime | None = None,
    active_ms: int | None = None,
    client: dict | None = None,
) -> tuple[Annotation, bool]:
    """Apply a change to the annotator's annotation of the image. Return (annotation, changed).

    The change is applied to ``base_version`` only: VersionConflict otherwise, as for a whole
    document, unless ``change.op`` is the last change applied (a retry: nothing is applied again).
    The first change of an annotation (version 0) creates it. The work, and the bytes written, are
    in proportion to the change: the new strokes alone are painted onto the stored mask, and a
    removal from the end starts from the checkpoint of the chunk it cuts.
    """
    locked = queue.save_locks(image=image, annotator=annotator)  # all three rows at once, when all three exist
    if locked is not None and text_changes.is_text_change(change):
        # Most saves only type on: two or three small writes (see text_changes).
        progress, annotation, assignment = locked
        done = text_changes.text_change_apply(
            progress=progress,
            annotation=annotation,
            assignment=assignment,
            change=change,
            base_version=base_version,
            active_ms=active_ms,
            client=client,
        )
        if done is not None:
            return done
    if locked is not None:
        progress, annotation, assignment = locked
    else:
        progress = queue.progress_lock(dataset=image.dataset, annotator=annotator)
        annotation, assignment = _locked_annotation(image, annotator), None
    if annotation is None and base_version == 0 and change.remove == 0:
        # Nothing stored yet: the change is the whole document.
        annotation, changed, before = _create_from_change(
            image, annotator, change, started_at=started_at, active_ms=active_ms, client=client
        )
    elif annotation is None or base_version != annotation.version:
        if annotation is not None and change.op and change.op == annotation.last_op:
            return annotation, False  # a retry of the change that made this version
        if annotation is None:
            annotation = Annotation(image=image, annotator=annotator, version=0)
        raise VersionConflict(annotation, base_version)
    else:
        before = {"status": annotation.status, "active_ms": annotation.active_ms}
        changed = _apply_change(annotation, change, active_ms=active_ms, client=client)
    queue.annotation_saved(annotation=annotation, before=before, progress=progress, assignment=assignment)
    return annotation, changed


def _create_from_change(
    image: Image, annotator: User, change: AnnotationChange, *, started_at, active_ms, client
) -> tuple[Annotation, bool, dict | None]:
    """Create the annotation from its first change; return (annotation, changed, before) as ``_save`` does.

    As ``_save`` creates one, but the strokes go straight into chunks (``stroke_chunks.chunks_paint``),
    so that the row never carries them and the next change has nothing to move.
    """
    label, text, status = change.content_after(Annotation())
    _check_label(image.dataset, label)
    now = timezone.now()
    annotation = Annotation(image=image, annotator=annotator, version=1, started_at=started_at or now)
    strokes = change.append
    # Painted once, into the chunks' checkpoints: the row never carries the strokes. The change's
    # serializer refused more ink than one save may paint (too_much_ink): not counted again.
    chunks, mask = stroke_chunks.chunks_paint(strokes, image, version=1, within_ink=True)
    annotation.strokes, annotation.chunked, annotation.last_op = [], True, change.op
    annotation.stroke_count, annotation.point_count = len(strokes), sum(len(stroke["points"]) for stroke in strokes)
    annotation.mask_rle, annotation.mask_area = mask_encode(mask), int(np.count_nonzero(mask))
    _set_content(annotation, AnnotationContent(strokes, label, text, status), now=now, same_strokes=True)
    _check_complete(annotation)
    _set_metadata(annotation, active_ms=active_ms, client=client)
    annotation.full_clean(exclude=CHECKED_BEFORE, validate_constraints=False)  # the database enforces those
    try:
        with transaction.atomic():
            annotation.save()
        stroke_chunks.chunks_insert(annotation, chunks)
        return annotation, True, None
    except IntegrityError:
        pass  # another request created it between our read and our insert
    # A whole-document save treats this one as an update of what the other request stored.
    content = AnnotationContent(strokes=strokes, label=label, text=text, status=status)
    annotation, changed, before = _save(
        image=image,
        annotator=annotator,
        content=content,
        base_version=0,
        started_at=started_at,
        active_ms=active_ms,
        client=client,
    )
    if change.op:
        Annotation.objects.filter(pk=annotation.pk).update(last_op=change.op)
        annotation.last_op = change.op
    return annotation, changed, before


def _check_change(annotation: Annotation, change: AnnotationChange) -> None:
    """Refuse a change that removes more strokes than there are, or takes the document past its limits."""
    limits = strokes_mod.DEFAULT_LIMITS
    if change.remove > annotation.stroke_count:
        message = f"remove must be at most {annotation.stroke_count}, the strokes stored; got {change.remove}."
        raise ValidationError({"remove": ValidationError(message, code="remove_too_many")})
    strokes = annotation.stroke_count - change.remove + len(change.append)
    if strokes > limits.max_strokes:
        message = f"an annotation may hold at most {limits.max_strokes} strokes; this change makes {strokes}."
        raise ValidationError({"append": ValidationError(message, code="too_many_strokes")})


def _check_points(annotation: Annotation, change: AnnotationChange) -> None:
    """Refuse a change that takes the document past the points it may hold (once the removal is done)."""
    limits = strokes_mod.DEFAULT_LIMITS
    points = annotation.point_count + sum(len(s["points"]) for s in change.append)
    if points > limits.max_points:
        message = f"an annotation may hold at most {limits.max_points} points in all; this change makes {points}."
        raise ValidationError({"append": ValidationError(message, code="too_many_points")})


@traced("save a change: apply it")
def _apply_change(annotation: Annotation, change: AnnotationChange, *, active_ms, client) -> bool:
    """Apply the change to the locked annotation at its base version; return whether the content changed."""
    label, text, status = change.content_after(annotation)
    _check_label(annotation.image.dataset, label)
    _check_change(annotation, change)
    if not change.remove and not change.append and (label, text, status) == AnnotationContent.of_fields(annotation):
        if _set_metadata(annotation, active_ms=active_ms, client=client):
            row_update(annotation, ["active_ms", "client", "updated_at"])
        return False
    now = timezone.now()
    if not annotation.chunked:
        stroke_chunks.chunks_convert(annotation)  # once: later changes write only what they change
    if (
        change.remove
        or (annotation.label is not None and label != annotation.label)
        or not text.startswith(annotation.text)
    ):
        _keep_as_revision(annotation, replaced_by=annotation.annotator, now=now)  # refers to the chunks: no copy
    version = annotation.version + 1
    state = stroke_chunks.MaskState(annotation.mask_rle, annotation.mask_area)
    if change.remove:
        state = stroke_chunks.chunks_remove(annotation, change.remove, version=version)
    if change.append:
        _check_points(annotation, change)  # once the removal is done: its points are free again
        state = stroke_chunks.chunks_append(annotation, change.append, version=version, before=state)
    annotation.mask_rle, annotation.mask_area = state.rle, state.area
    if status == Annotation.Status.SUBMITTED and annotation.status != Annotation.Status.SUBMITTED:
        annotation.submitted_at = now
    elif status == Annotation.Status.DRAFT:
        annotation.submitted_at = None
    annotation.label, annotation.text, annotation.status = label, text, status
    _check_complete(annotation)
    _set_metadata(annotation, active_ms=active_ms, client=client)
    annotation.version = version
    annotation.last_op = change.op
    annotation.full_clean(exclude=CHECKED_BEFORE, validate_constraints=False)
    row_update(annotation, CONTENT_FIELDS + STROKE_FIELDS + ["point_count", "last_op"])
    return True


@traced("save: lock the annotation (reads its strokes)")
def _locked_annotation(image: Image, annotator: User) -> Annotation | None:
    """Return the annotator's annotation of the image, locked until commit, or None.

    Raw SQL, as the queue's locks: every save reads it, and building the query through the ORM
    cost more than running it.
    """
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    sql = f"SELECT * FROM {Annotation._meta.db_table} WHERE image_id = %s AND annotator_id = %s{lock}"
    annotation = row_read(Annotation, sql, [image.pk, annotator.pk])
    if annotation is not None:
        # The caller has both, the image with its dataset: no need to read them again.
        annotation.image, annotation.annotator = image, annotator
    return annotation


def _keep_as_revision(annotation: Annotation, *, replaced_by: User, now: datetime) -> None:
    """Keep the annotation's stored content as a revision, copied within the database.

    The row ``AnnotationRevision.objects.create`` would write from the stored content, without
    carrying the strokes (~60 KB of JSON) to Python and back. A chunked annotation's revision
    copies no strokes at all: it refers to the chunks live at its version.
    """
    revision = AnnotationRevision._meta
    created_at = revision.get_field("created_at").get_db_prep_value(now, connection)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {revision.db_table} "
            "(annotation_id, version, strokes, chunked, stroke_count, label, text, status, reason, replaced_by_id, "
            "created_at) "
            f"SELECT id, version, strokes, chunked, stroke_count, label, text, status, %s, %s, %s "
            f"FROM {Annotation._meta.db_table} "
            "WHERE id = %s",
            [AnnotationRevision.Reason.OVERWRITE, replaced_by.pk, created_at, annotation.pk],
        )


def _set_metadata(annotation: Annotation, *, active_ms: int | None, client: dict | None) -> bool:
    """Record the active time (it only grows, so a stale retry cannot shrink it) and client info."""
    changed = False
    if active_ms is not None and active_ms > annotation.active_ms:
        annotation.active_ms = active_ms
        changed = True
    if client and client != annotation.client:
        annotation.client = client
        changed = True
    return changed


@transaction.atomic
def annotation_restore(*, revision: AnnotationRevision, user: User) -> Annotation:
    """Put a revision's content back as a new version, keeping the replaced content as a revision too."""
    owner = Annotation.objects.select_related("image__dataset", "annotator__profile").get(pk=revision.annotation_id)
    progress = queue.progress_lock(dataset=owner.image.dataset, annotator=owner.annotator)
    annotation = (
        Annotation.objects.select_for_update(of=("self",))
        .select_related("image__dataset")
        .get(pk=revision.annotation_id)
    )
    before = {"status": annotation.status, "active_ms": annotation.active_ms}
    current = AnnotationContent.of(annotation)
    AnnotationRevision.objects.get_or_create(
        annotation=annotation,
        version=annotation.version,
        defaults={
            "strokes": current.strokes,
            "label": current.label,
            "text": current.text,
            "status": current.status,
            "reason": AnnotationRevision.Reason.RESTORE,
            "replaced_by": user,
        },
    )
    _set_content(annotation, AnnotationContent.of(revision), now=timezone.now())
    annotation.version += 1
    annotation.full_clean(validate_constraints=False)
    annotation.save()
    annotation.annotator = owner.annotator
    queue.annotation_saved(annotation=annotation, before=before, progress=progress)
    return annotation
