"""Writes on annotations: saving the strokes document with its version, and restoring revisions."""

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import masks
from .. import strokes as strokes_mod
from ..models import Annotation, AnnotationRevision, Dataset, Image
from . import queue
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

    @classmethod
    def of(cls, annotation) -> "AnnotationContent":
        return cls(annotation.strokes, annotation.label, annotation.text, annotation.status)

    def loses(self, old: "AnnotationContent") -> bool:
        """Return True if replacing ``old`` by this content loses something ``old`` had.

        Adding strokes, and typing at the end of the text, lose nothing: the old content
        can be read off the new one. Undo, clear, a changed answer or deleted text do.
        """
        n = len(old.strokes)
        return (
            self.strokes[:n] != old.strokes
            or (old.label is not None and self.label != old.label)
            or not self.text.startswith(old.text)
        )


def mask_encode(mask: np.ndarray) -> str:
    """Return the COCO compressed RLE counts of a boolean mask."""
    return masks.rle_encode(mask)


def _set_content(annotation: Annotation, content: AnnotationContent, *, now: datetime) -> None:
    """Put content into the annotation with its derived fields (mask, counts, submission time)."""
    image = annotation.image
    mask = strokes_mod.rasterize(content.strokes, image.width, image.height)
    annotation.strokes = content.strokes
    annotation.label = content.label
    annotation.text = content.text
    annotation.stroke_count = len(content.strokes)
    annotation.mask_area = int(mask.sum())
    annotation.mask_rle = mask_encode(mask)
    if content.status == Annotation.Status.SUBMITTED and annotation.status != Annotation.Status.SUBMITTED:
        annotation.submitted_at = now
    elif content.status == Annotation.Status.DRAFT:
        annotation.submitted_at = None
    annotation.status = content.status


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
    # The annotator's queue lock comes first, as in every queue operation (see services/queue.py).
    progress = queue.progress_lock(dataset=image.dataset, annotator=annotator)
    before = Annotation.objects.filter(image=image, annotator=annotator).values("status", "active_ms").first()
    annotation, changed = _save(
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
) -> tuple[Annotation, bool]:
    _check_label(image.dataset, content.label)
    now = timezone.now()
    annotation = _locked_annotation(image, annotator)
    if annotation is None:
        annotation = Annotation(image=image, annotator=annotator, version=1, started_at=started_at or now)
        _set_content(annotation, content, now=now)
        _check_complete(annotation)
        _set_metadata(annotation, active_ms=active_ms, client=client)
        annotation.full_clean(validate_constraints=False)  # the unique constraint is the database's to enforce
        try:
            with transaction.atomic():
                annotation.save()
            return annotation, True
        except IntegrityError:
            # Another request created it between our read and our insert: treat this one as an update.
            annotation = _locked_annotation(image, annotator)
    old = AnnotationContent.of(annotation)
    if content == old:
        if _set_metadata(annotation, active_ms=active_ms, client=client):
            annotation.save(update_fields=["active_ms", "client", "updated_at"])
        return annotation, False
    if base_version != annotation.version:
        raise VersionConflict(annotation, base_version)
    old_version = annotation.version
    _set_content(annotation, content, now=now)
    _check_complete(annotation)
    if content.loses(old):
        AnnotationRevision.objects.create(
            annotation=annotation,
            version=old_version,
            strokes=old.strokes,
            label=old.label,
            text=old.text,
            status=old.status,
            reason=AnnotationRevision.Reason.OVERWRITE,
            replaced_by=annotator,
        )
    _set_metadata(annotation, active_ms=active_ms, client=client)
    annotation.version += 1
    annotation.full_clean(validate_constraints=False)
    annotation.save()
    return annotation, True


def _locked_annotation(image: Image, annotator: User) -> Annotation | None:
    return (
        # of=self and no ordering: locking the joined image and dataset rows too would make every
        # save in a dataset wait for every other one.
        Annotation.objects.select_for_update(of=("self",))
        .order_by()
        .select_related("image__dataset")
        .filter(image=image, annotator=annotator)
        .first()
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
