"""Writes on datasets: importing a dataset folder (zip archives: ``services.uploads``)."""

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from .. import files, importing
from ..models import Dataset, Image, ImageAttachment, shuffle_key


@dataclass
class ImportReport:
    """What an import did, each item listed by name."""

    dataset: Dataset
    created: bool
    settings_changed: bool = False  # the name, question, targets... given differ from the stored ones
    attachments_added: int = 0
    added: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    files_without_row: list[str] = field(default_factory=list)
    rows_without_file: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    ambiguous: list[str] = field(default_factory=list)
    attachments_missing: list[str] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        """Return what the import did to the dataset, in a word: Created, Updated or Unchanged."""
        if self.created:
            return "Created"
        return "Updated" if self.settings_changed or self.added or self.attachments_added else "Unchanged"

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
            ("attached files (ai_saliency, reference_mask) missing or unreadable (images imported without)",
             self.attachments_missing),
        ]  # fmt: skip


def dataset_root_of(folder: Path) -> str:
    """Return the root naming a dataset folder; raise ValidationError if it is not below DATASET_ROOT.

    A folder in DATASET_UPLOAD_ROOT (uploaded datasets) is ``uploads/<name>``, wherever that is.
    """
    # abspath, not resolve: a dataset may be a symbolic link into DATASET_ROOT, as the original tool advised.
    absolute = Path(os.path.abspath(folder))
    uploads = Path(os.path.abspath(files.dataset_upload_root()))
    if absolute == uploads:
        raise ValidationError(
            f"{folder} is DATASET_UPLOAD_ROOT itself; name a dataset folder inside it.", code="invalid"
        )
    if absolute.is_relative_to(uploads):
        return f"{files.UPLOADS}/{absolute.relative_to(uploads).as_posix()}"
    root = Path(os.path.abspath(settings.DATASET_ROOT))
    try:
        relative = absolute.relative_to(root)
    except ValueError:
        raise ValidationError(
            f"{folder} is outside DATASET_ROOT ({root}); move it there or link it: ln -s {absolute} {root}/NAME",
            code="outside_dataset_root",
        ) from None
    if relative == Path("."):
        raise ValidationError(f"{folder} is DATASET_ROOT itself; name a dataset folder inside it.", code="invalid")
    if relative.parts[0] == files.UPLOADS:
        # Roots starting uploads/ name folders in DATASET_UPLOAD_ROOT, which is elsewhere here.
        raise ValidationError(
            f"{folder}: uploads/ below DATASET_ROOT is reserved for uploaded datasets, which are unpacked into "
            f"DATASET_UPLOAD_ROOT ({uploads}); rename the folder.",
            code="reserved_folder",
        )
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
    images_per_annotator: int | None = None,
    access: str | None = None,
    order: str | None = None,
    lease_minutes: int | None = None,
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
        "images_per_annotator": images_per_annotator,
        "access": access,
        "order": order,
        "lease_minutes": lease_minutes,
    }
    with transaction.atomic():
        dataset, created, changed = _dataset_upsert(root=root, slug=slug, options=options)
        report = ImportReport(dataset=dataset, created=created, settings_changed=changed and not created)
        apply_import_plan(plan, dataset=dataset, image_model=Image, report=report, attachment_model=ImageAttachment)
    return report


def dataset_upsert(*, root: str, slug: str | None = None, options: dict) -> tuple[Dataset, bool]:
    """Return the dataset of this root, created if new, with the options not None set; and whether it was created.

    Call inside a transaction: the dataset's row stays locked until it ends.
    """
    dataset, created, _ = _dataset_upsert(root=root, slug=slug, options=options)
    return dataset, created


def _dataset_upsert(*, root: str, slug: str | None, options: dict) -> tuple[Dataset, bool, bool]:
    """Return dataset_upsert's dataset and created, and whether anything was written."""
    options = {key: value for key, value in options.items() if value is not None}
    # NO KEY UPDATE: annotators' inserts referencing the dataset go on while it imports.
    dataset = Dataset.objects.select_for_update(no_key=True).filter(root=root).first()
    created = dataset is None
    if created:
        default_name = Path(root).name.replace("_", " ").replace("-", " ").strip().capitalize()
        dataset = Dataset(root=root, name=options.pop("name", default_name))
        dataset.slug = slug or _unique_slug(slugify(dataset.name) or "dataset")
    changed = created
    for key, value in options.items():
        changed |= getattr(dataset, key) != value
        setattr(dataset, key, value)
    if changed:  # a second import with the same options writes nothing
        dataset.full_clean()
        dataset.save()
    return dataset, created, changed


def apply_import_plan(
    plan: importing.ImportPlan, *, dataset, image_model, report: ImportReport, attachment_model=None
) -> None:
    """Create the plan's new images in ``dataset`` (and the attachments they lack), filling ``report``.

    Takes the Image model as an argument so the data migration can pass its historical model;
    the queue's fields (random-order keys, the image count) are set when that model has them,
    and attachments only when an ``attachment_model`` is given.
    """
    image_fields = {f.name for f in image_model._meta.get_fields()}
    dataset_fields = {f.name for f in type(dataset)._meta.get_fields()}
    keyed = "shuffle_key" in image_fields and "seed" in dataset_fields
    report.files_without_row += plan.files_without_row
    report.rows_without_file += plan.rows_without_file
    report.unreadable += plan.unreadable
    report.ambiguous += plan.ambiguous
    report.attachments_missing += plan.attachments_missing
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
                    **({"shuffle_key": shuffle_key(dataset.seed, item.sha256)} if keyed else {}),
                )
            )
    image_model.objects.bulk_create(new_images, batch_size=1000)
    if attachment_model is not None:
        report.attachments_added = _attach(
            plan, dataset=dataset, image_model=image_model, attachment_model=attachment_model
        )
    if "image_count" in dataset_fields:
        dataset.image_count = image_model.objects.filter(dataset=dataset).count()
        dataset.pool_version += 1 if new_images else 0  # new images: annotators who had finished have more
        dataset.save(update_fields=["image_count", "pool_version"])


def _attach(plan: importing.ImportPlan, *, dataset, image_model, attachment_model) -> int:
    """Create the attachments of the plan's images that they do not have yet (a re-import adds new ones); count them."""
    wanted = {(item.path, a.kind): a for item in plan.images for a in item.attachments}
    if not wanted:
        return 0
    ids = dict(image_model.objects.filter(dataset=dataset).values_list("path", "pk"))
    have = set(attachment_model.objects.filter(image__dataset=dataset).values_list("image__path", "kind").iterator())
    created = attachment_model.objects.bulk_create(
        [
            attachment_model(
                image_id=ids[path], kind=kind, path=a.path, sha256=a.sha256, width=a.width, height=a.height
            )
            for (path, kind), a in wanted.items()
            if (path, kind) not in have and path in ids
        ],
        batch_size=1000,
    )
    return len(created)


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
