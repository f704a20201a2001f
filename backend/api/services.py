"""Every write EyeTagger makes: importing datasets, saving and restoring annotations, creating users."""

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify
from pycocotools import mask as coco_mask

from . import importing, strokes as strokes_mod
from .models import Annotation, AnnotationRevision, Dataset, Image, Profile, Role

# --- Datasets ----------------------------------------------------------------------


@dataclass
class ImportReport:
    """What an import did, each item listed by name."""

    dataset: Dataset
    created: bool
    added: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    files_without_row: list[str] = field(default_factory=list)
    rows_without_file: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    ambiguous: list[str] = field(default_factory=list)

    def sections(self) -> list[tuple[str, list[str]]]:
        """Return (title, items) for each part of the report, in the order to show them."""
        return [
            ("added", self.added),
            ("duplicates (same content already imported, skipped)", self.duplicates),
            ("changed on disk since imported (skipped; re-import under a new name)", self.changed),
            ("files with no CSV row (skipped)", self.files_without_row),
            ("CSV rows with no file (skipped)", self.rows_without_file),
            ("unreadable files (skipped)", self.unreadable),
            ("CSV rows matching several files (skipped)", self.ambiguous),
        ]


def dataset_root_of(folder: Path) -> str:
    """Return folder relative to DATASET_ROOT, or raise ValidationError if it lies outside."""
    root = Path(os.path.abspath(settings.DATASET_ROOT))
    # abspath, not resolve: a dataset may be a symbolic link into DATASET_ROOT, as the original tool advised.
    absolute = Path(os.path.abspath(folder))
    try:
        relative = absolute.relative_to(root)
    except ValueError:
        raise ValidationError(
            f"{folder} is outside DATASET_ROOT ({root}); move it there or link it: ln -s {absolute} {root}/NAME",
            code="outside_dataset_root",
        ) from None
    if relative == Path("."):
        raise ValidationError(f"{folder} is DATASET_ROOT itself; name a dataset folder inside it.", code="invalid")
    return relative.as_posix()


def dataset_import(
    *,
    folder: Path,
    name: str | None = None,
    slug: str | None = None,
    description: str | None = None,
    question: str | None = None,
    choices: list[str] | None = None,
    require_choice: bool | None = None,
    require_mask: bool | None = None,
    require_text: bool | None = None,
    annotators_per_image: int | None = None,
    progress: Callable[[Iterable], Iterable] = iter,
) -> ImportReport:
    """Import the images of a dataset folder, creating the dataset if needed. Idempotent.

    The folder is read completely before anything is written, and everything is written in
    one transaction: a broken folder or CSV raises and leaves the database as it was.
    Options left as None keep the dataset's current value (or the model's default).
    """
    root = dataset_root_of(folder)
    plan = importing.plan_import(Path(folder), progress=progress)
    options = {
        "name": name,
        "description": description,
        "question": question,
        "choices": choices,
        "require_choice": require_choice,
        "require_mask": require_mask,
        "require_text": require_text,
        "annotators_per_image": annotators_per_image,
    }
    options = {key: value for key, value in options.items() if value is not None}
    with transaction.atomic():
        dataset = Dataset.objects.select_for_update().filter(root=root).first()
        created = dataset is None
        if created:
            default_name = Path(root).name.replace("_", " ").replace("-", " ").strip().capitalize()
            dataset = Dataset(root=root, name=options.pop("name", default_name))
            dataset.slug = slug or _unique_slug(slugify(dataset.name) or "dataset")
        for key, value in options.items():
            setattr(dataset, key, value)
        dataset.full_clean()
        dataset.save()
        report = ImportReport(dataset=dataset, created=created)
        apply_import_plan(plan, dataset=dataset, image_model=Image, report=report)
    return report


def apply_import_plan(plan: importing.ImportPlan, *, dataset, image_model, report: ImportReport) -> None:
    """Create the plan's new images in ``dataset``, filling ``report``.

    Takes the Image model as an argument so the data migration can pass its historical model.
    """
    report.files_without_row += plan.files_without_row
    report.rows_without_file += plan.rows_without_file
    report.unreadable += plan.unreadable
    report.ambiguous += plan.ambiguous
    existing = dict(image_model.objects.filter(dataset=dataset).values_list("path", "sha256"))
    known = set(existing.values())
    new_images = []
    for item in plan.images:
        if item.path in existing:
            if existing[item.path] == item.sha256:
                continue  # imported before: nothing to do
            report.changed.append(item.path)
        elif item.sha256 in known:
            report.duplicates.append(item.path)
        else:
            known.add(item.sha256)
            report.added.append(item.path)
            new_images.append(
                image_model(
                    dataset=dataset,
                    sha256=item.sha256,
                    path=item.path,
                    position=item.position,
                    width=item.width,
                    height=item.height,
                    ground_truth=item.ground_truth,
                    metadata=item.metadata,
                )
            )
    image_model.objects.bulk_create(new_images, batch_size=1000)


def _unique_slug(base: str) -> str:
    slug, n = base[:90], 2
    while Dataset.objects.filter(slug=slug).exists():
        slug, n = f"{base[:90]}-{n}", n + 1
    return slug


def dataset_missing_parts(dataset: Dataset, *, label: str | None, text: str, mask_area: int) -> list[str]:
    """Return what the dataset requires that this content lacks, as instructions."""
    missing = []
    if dataset.require_choice and label is None:
        missing.append(f"choose an answer to {dataset.question!r}" if dataset.question else "choose an answer")
    if dataset.require_mask and mask_area == 0:
        missing.append("draw a mask")
    if dataset.require_text and not text.strip():
        missing.append("type a justification")
    return missing


# --- Annotations -------------------------------------------------------------------


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
    rle = coco_mask.encode(np.asfortranarray(mask, dtype=np.uint8))
    return rle["counts"].decode("ascii")


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
    """
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
            annotation=annotation, version=old_version, strokes=old.strokes, label=old.label,
            text=old.text, status=old.status, reason=AnnotationRevision.Reason.OVERWRITE, replaced_by=annotator,
        )
    _set_metadata(annotation, active_ms=active_ms, client=client)
    annotation.version += 1
    annotation.full_clean(validate_constraints=False)
    annotation.save()
    return annotation, True


def _locked_annotation(image: Image, annotator: User) -> Annotation | None:
    return (
        Annotation.objects.select_for_update()
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
    annotation = Annotation.objects.select_for_update().select_related("image__dataset").get(pk=revision.annotation_id)
    current = AnnotationContent.of(annotation)
    AnnotationRevision.objects.get_or_create(
        annotation=annotation,
        version=annotation.version,
        defaults={
            "strokes": current.strokes, "label": current.label, "text": current.text,
            "status": current.status, "reason": AnnotationRevision.Reason.RESTORE, "replaced_by": user,
        },
    )
    _set_content(annotation, AnnotationContent.of(revision), now=timezone.now())
    annotation.version += 1
    annotation.full_clean(validate_constraints=False)
    annotation.save()
    return annotation


# --- Users -------------------------------------------------------------------------


def user_set_role(*, user: User, role: Role) -> None:
    """Give the user exactly one role: annotator or researcher (groups), or admin (staff)."""
    groups = {g.name: g for g in Group.objects.filter(name__in=[Role.ANNOTATOR, Role.RESEARCHER])}
    user.groups.remove(*groups.values())
    user.is_staff = role == Role.ADMIN
    if role in (Role.ANNOTATOR, Role.RESEARCHER):
        group = groups.get(role) or Group.objects.get_or_create(name=role)[0]
        user.groups.add(group)
    user.save(update_fields=["is_staff"])


@transaction.atomic
def user_create(
    *, username: str, password: str, role: Role, email: str = "", is_test: bool = False, superuser: bool = False
) -> User:
    """Create a user with a role and a profile."""
    user = User(username=username, email=email, is_superuser=superuser)
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    profile, _ = Profile.objects.get_or_create(user=user)  # the post_save signal has usually made it
    if profile.is_test != is_test:
        profile.is_test = is_test
        profile.save(update_fields=["is_test"])
    user.profile = profile
    user_set_role(user=user, role=role)
    return user
