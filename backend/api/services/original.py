"""Bring a deployment of the original EyeTagger over: its users, images and every annotation, in one transaction.

The reading is done by the pure ``original`` package (the dump or database, the PNG, SVG and
times); this module writes. Everything is written in one transaction: any unreadable row, a
username taken here, or a row naming a user or image its own tables lack, raises and leaves
the database as it was. A second run finds what the first imported (users through
``OriginalAccount``, images by SHA-256, annotations by image and annotator with the
``OriginalAnnotation`` each keeps) and changes nothing; a row changed in the original since
is imported again as a new version, unless the annotation was changed here meanwhile.

One module because its parts (images, users, annotations) are the steps of that one transaction
and share its report, and no other service calls them.
"""

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

from django.contrib.auth.hashers import identify_hasher, is_password_usable
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .. import importing
from ..models import (
    Annotation,
    AnnotationRevision,
    AnnotatorProgress,
    Assignment,
    Dataset,
    Image,
    OriginalAccount,
    OriginalAnnotation,
    Profile,
    Role,
)
from ..original import rows as original_rows
from ..original.decode import Decoded, RowDecoder
from ..original.rows import OriginalInvalid
from ..token_models import ApiToken, token_digest
from . import queue, stroke_chunks
from .datasets import ImportReport, apply_import_plan, dataset_root_of, dataset_upsert
from .tokens import api_token_create
from .users import user_set_role

CLIENT_MARK = "original-eyetagger"  # client["imported_from"] of every imported annotation
DEFAULT_QUESTION = "Is this image real or fake?"  # the original's question (52e3ec8)
BATCH = 250  # annotation rows decoded and written at a time: memory stays flat at any size


class ImportRefused(ValidationError):
    """The import would be wrong as asked (a username taken here, choices that do not fit); nothing was written."""


@dataclass
class OriginalImportReport:
    """What an import of the original did, or would do (a dry run), each problem listed by row."""

    dataset: Dataset | None = None
    created: bool = False
    dry_run: bool = False
    source: str = ""
    era: str = ""
    users_created: list[str] = field(default_factory=list)
    users_already: list[str] = field(default_factory=list)
    users_mapped: list[str] = field(default_factory=list)
    user_notes: list[str] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    images_added: list[str] = field(default_factory=list)
    images_already: list[str] = field(default_factory=list)
    files_renamed: list[str] = field(default_factory=list)
    files_missing: list[str] = field(default_factory=list)
    files_changed: list[str] = field(default_factory=list)
    files_unreadable: list[str] = field(default_factory=list)
    files_without_row: list[str] = field(default_factory=list)
    csv_rows_without_file: list[str] = field(default_factory=list)
    annotations_created: int = 0
    annotations_unchanged: int = 0
    annotations_updated: list[str] = field(default_factory=list)
    annotations_kept: list[str] = field(default_factory=list)
    annotations_skipped: list[str] = field(default_factory=list)
    annotation_notes: list[str] = field(default_factory=list)
    strokes_from: Counter = field(default_factory=Counter)
    svg_rows: int = 0  # rows with both an SVG and a PNG
    svg_differing: list[tuple[int, int, float]] = field(default_factory=list)  # (row id, pixels, IoU)
    placeholder_texts: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def annotations_imported(self) -> int:
        return self.annotations_created + len(self.annotations_updated)

    @property
    def changed_anything(self) -> bool:
        return bool(
            self.created
            or self.users_created
            or self.users_mapped
            or self.tokens
            or self.images_added
            or self.annotations_imported
        )

    def summary(self) -> list[str]:
        """Return the report's headline figures, a line each."""
        lines = [
            f"Users: {len(self.users_created)} created, {len(self.users_already)} imported before, "
            f"{len(self.users_mapped)} mapped to existing accounts"
            + (f", {len(self.tokens)} API tokens kept" if self.tokens else ""),
            f"Images: {len(self.images_added)} added, {len(self.images_already)} already in the dataset; "
            f"{len(self.files_missing)} missing, {len(self.files_changed)} changed, "
            f"{len(self.files_unreadable)} unreadable, {len(self.files_without_row)} files with no row",
            f"Annotations: {self.annotations_created} imported, {self.annotations_unchanged} imported before "
            f"and unchanged, {len(self.annotations_updated)} updated, {len(self.annotations_kept)} kept as changed "
            f"here, {len(self.annotations_skipped)} not imported",
        ]
        if self.strokes_from:
            parts = ", ".join(
                f"{n} {OriginalAnnotation.Source(key).label}" for key, n in sorted(self.strokes_from.items())
            )
            lines.append(f"Strokes: {parts}")
        if self.svg_rows:
            lines.append(self.svg_agreement())
        if not self.changed_anything:
            lines.append("Nothing to do: everything here was imported before.")
        return lines

    def svg_agreement(self) -> str:
        """Return how often and by how much the SVG strokes and the PNG disagree, in words."""
        differing = len(self.svg_differing)
        if not differing:
            return f"SVG against PNG: all {self.svg_rows} rows with both agree pixel for pixel."
        pixels = sorted(p for _, p, _ in self.svg_differing)
        worst = min(iou for _, _, iou in self.svg_differing)
        return (
            f"SVG against PNG: {differing} of {self.svg_rows} rows with both differ, by {pixels[0]} to {pixels[-1]} "
            f"pixels (median {pixels[len(pixels) // 2]}), IoU {worst:.4f} at worst; the PNG's mask is kept, the SVG "
            "strokes are kept for replay."
        )

    def sections(self) -> list[tuple[str, list[str]]]:
        """Return (title, items) for every list of the report, in the order to show them."""
        return [
            ("users created", self.users_created),
            ("users mapped to existing accounts", self.users_mapped),
            ("about users", self.user_notes),
            ("images added", self.images_added),
            ("image files found under another name (by their SHA-256)", self.files_renamed),
            ("image files missing (their annotations are not imported)", self.files_missing),
            ("image files changed since (their annotations are not imported)", self.files_changed),
            ("image files unreadable (their annotations are not imported)", self.files_unreadable),
            ("files with no row in the original (not imported)", self.files_without_row),
            ("metadata.csv rows with no file", self.csv_rows_without_file),
            ("annotations not imported", self.annotations_skipped),
            ("annotations updated (changed in the original since the last import)", self.annotations_updated),
            ("annotations kept as changed here (the original's row changed too)", self.annotations_kept),
            ("about annotations", self.annotation_notes),
            ("notes", self.notes),
        ]


def original_import(
    *,
    source: original_rows.Source,
    dataset_dir: Path,
    name: str | None = None,
    question: str | None = None,
    choices: list[str] | None = None,
    user_map: dict[str, str] | None = None,
    skip_annotations: Iterable[int] = (),
    tokens: bool = False,
    dry_run: bool = False,
    progress: Callable[[Iterator, int], Iterable] = lambda items, total: items,
) -> OriginalImportReport:
    """Import an original deployment's users, images (from ``dataset_dir``) and annotations. Idempotent.

    ``choices``: what the original's Real and Fake buttons become, in that order (default
    real, fake). ``user_map``: original username -> username here; an existing account there
    takes the original user's work (the same person), a free name is created. ``skip_annotations``:
    original row ids left out on purpose (each is listed). ``tokens``: keep the users' API
    tokens, so scripts signed in to the original keep working. ``dry_run``: do everything, report
    it, and roll it back. ``progress`` wraps the loop over annotation rows (and gets their count).
    """
    report = OriginalImportReport(dry_run=dry_run, source=source.description)
    schema = original_rows.read_schema(source)
    report.era = schema.era
    users = original_rows.read_users(source, schema)
    images = original_rows.read_images(source, schema)
    root = dataset_root_of(dataset_dir)
    plan, located = _locate_images(images, Path(dataset_dir), report)
    labels = _labels(choices, schema)
    with transaction.atomic():
        dataset = _dataset_for(
            root, schema, labels, {"name": name, "question": question, "choices": choices}, report=report
        )
        by_sha = _add_images(plan, located, dataset=dataset, report=report)
        accounts = _import_users(users, dataset=dataset, user_map=user_map or {}, tokens=tokens, report=report)
        images_by_id = {image.img_id: image for image in images}
        rows = original_rows.read_annotations(source)
        total = source.row_count(original_rows.ANNOTATIONS)
        with RowDecoder(total) as decoder:
            importer = _AnnotationImporter(
                dataset, accounts, images_by_id, located, by_sha, labels, set(skip_annotations), report, decoder
            )
            _pipeline(importer, _batches(progress(rows, total), BATCH))
        importer.finish()
        if dry_run:
            transaction.set_rollback(True)
    return report


def _dataset_for(
    root: str, schema: original_rows.Schema, labels: dict[str, str], options: dict, *, report: OriginalImportReport
) -> Dataset:
    """Create or update the dataset of this folder with these options; refuse it if its choices miss a button's."""
    existing = Dataset.objects.filter(root=root).first()
    if schema.has_buttons and (existing is None or not existing.choices):
        # A dataset without choices (new, or made from the same folder by import_dataset or the
        # data migration) asks the original's question, with its buttons as the choices.
        asked = options["question"] or (existing.question if existing else "") or DEFAULT_QUESTION
        options.update(question=asked, choices=list(labels.values()))
    dataset, report.created = dataset_upsert(root=root, options=options)
    report.dataset = dataset
    _check_choices(dataset, labels, schema)
    return dataset


def _add_images(
    plan: importing.ImportPlan, located: dict[str, str], *, dataset: Dataset, report: OriginalImportReport
) -> dict[str, Image]:
    """Add the plan's new images to the dataset; return its images of the original's files by SHA-256."""
    dataset_report = ImportReport(dataset=dataset, created=report.created)
    apply_import_plan(plan, dataset=dataset, image_model=Image, report=dataset_report)
    report.images_added = dataset_report.added
    by_sha = {image.sha256: image for image in Image.objects.filter(dataset=dataset, sha256__in=located.values())}
    added = set(report.images_added)
    report.images_already = sorted(image.path for image in by_sha.values() if image.path not in added)
    return by_sha


def _pipeline(importer: "_AnnotationImporter", batches: Iterable[list]) -> None:
    """Write every batch of annotation rows."""
    # Pipelined: the workers decode a batch while this process writes the one before.
    pending = None
    for batch in batches:
        decoding = importer.prepare(batch)
        if pending is not None:
            importer.write(pending)
        pending = decoding
    if pending is not None:
        importer.write(pending)


def _labels(choices: list[str] | None, schema: original_rows.Schema) -> dict[str, str]:
    """Return what the Real and Fake buttons become."""
    if choices is None:
        return {"real": "real", "fake": "fake"}
    if len(choices) != 2:
        raise ImportRefused(
            f"--choices names what the original's Real and Fake buttons become, so two choices; got {len(choices)}.",
            code="invalid_choices",
        )
    return {"real": choices[0], "fake": choices[1]}


def _check_choices(dataset: Dataset, labels: dict[str, str], schema: original_rows.Schema) -> None:
    if schema.has_buttons and not set(labels.values()) <= set(dataset.choices):
        raise ImportRefused(
            f"the dataset {dataset.name!r} has the choices {', '.join(dataset.choices) or '(none)'}, but the "
            f"original's buttons are to become {', '.join(labels.values())}; pass --choices with two of its choices.",
            code="invalid_choices",
        )


# --- Images ---------------------------------------------------------------------------------


def _locate_images(
    images: list[original_rows.OriginalImage], folder: Path, report: OriginalImportReport
) -> tuple[importing.ImportPlan, dict[str, str]]:
    """Find each original image's file by its SHA-256; return the plan of files to import and img_id -> sha256.

    A file is looked for at images/<img_path> first, then among all files by hash (renamed since).
    """
    found, unreadable = _inspect_folder(folder)
    by_sha: dict[str, list[str]] = {}
    for relative, (sha, _, _) in found.items():
        by_sha.setdefault(sha, []).append(relative)
    csv_rows = _csv_rows(folder, report) or {}
    csv_matched: set[str] = set()
    plan = importing.ImportPlan()
    located: dict[str, str] = {}
    used: set[str] = set()
    for position, image in enumerate(sorted(images, key=lambda i: (i.id is None, i.id or 0, i.img_id))):
        relative = _file_of(image, by_sha, found, unreadable, report)
        if relative is None:
            continue
        used.add(relative)
        plan.images.append(_image_file(image, relative, found[relative], csv_rows, csv_matched, position))
        located[image.img_id] = found[relative][0]
    if images and not located:
        raise OriginalInvalid(
            f"none of the original's {len(images)} images is in {folder / 'images'} (by name or by SHA-256): is "
            "--dataset-dir the original's data/dataset folder?"
        )
    _report_files_without_row(images, found, unreadable, used, located, plan, report)
    report.csv_rows_without_file = [
        f"{name} (line {row.line})" for name, row in csv_rows.items() if name not in csv_matched
    ]
    return plan, located


def _inspect_folder(folder: Path) -> tuple[dict[str, tuple[str, int, int]], dict[str, str]]:
    """Return the image files under images/ as file -> (sha256, width, height), and the unreadable ones -> why."""
    files = importing.list_image_files(folder / "images")
    found: dict[str, tuple[str, int, int]] = {}
    unreadable: dict[str, str] = {}
    for relative, result in zip(files, importing.inspect_images([folder / "images" / f for f in files]), strict=True):
        if isinstance(result, ValueError):
            unreadable[relative] = str(result)
        else:
            found[relative] = result
    return found, unreadable


def _file_of(
    image: original_rows.OriginalImage,
    by_sha: dict[str, list[str]],
    found: dict[str, tuple[str, int, int]],
    unreadable: dict[str, str],
    report: OriginalImportReport,
) -> str | None:
    """Return the file (under images/) holding this image's bytes, or None after reporting why there is none."""
    label = f"{image.img_path or '(no img_path)'} ({image.where}, img_id {image.img_id[:12]}…)"
    candidates = by_sha.get(image.img_id, [])
    if image.img_path in candidates:
        return image.img_path
    if candidates:
        report.files_renamed.append(f"{label}: found as images/{candidates[0]}")
        return candidates[0]
    if image.img_path in found:
        report.files_changed.append(
            f"{label}: images/{image.img_path} now has the SHA-256 {found[image.img_path][0][:12]}…"
        )
    elif image.img_path in unreadable:
        report.files_unreadable.append(f"{label}: {unreadable[image.img_path]}")
    else:
        report.files_missing.append(f"{label}: no such file, and no file with its SHA-256")
    return None


def _image_file(
    image: original_rows.OriginalImage,
    relative: str,
    inspected: tuple[str, int, int],
    csv_rows: dict[str, importing.MetadataRow],
    csv_matched: set[str],
    position: int,
) -> importing.ImageFile:
    """Return the file to import for an original image, its metadata.csv row (if any) marked as matched."""
    sha, width, height = inspected
    row = next((csv_rows[n] for n in _csv_names(relative, image.img_path) if n in csv_rows), None)
    if row is not None:
        csv_matched.add(row.filename)
    ground_truth = image.ground_truth if image.has_ground_truth_column else (row.ground_truth if row else None)
    metadata = {**(row.metadata if row else {}), **image.extra}
    if image.id is not None:
        metadata["original_id"] = str(image.id)
    return importing.ImageFile(
        path=f"images/{relative}",
        sha256=sha,
        width=width,
        height=height,
        ground_truth=original_rows.ground_truth_value(ground_truth),
        metadata=metadata,
        position=position,
    )


def _report_files_without_row(
    images: list[original_rows.OriginalImage],
    found: dict[str, tuple[str, int, int]],
    unreadable: dict[str, str],
    used: set[str],
    located: dict[str, str],
    plan: importing.ImportPlan,
    report: OriginalImportReport,
) -> None:
    """List the files under images/ that no original image row names (a twin's bytes, or unreadable, said so)."""
    originals = {image.img_id for image in images}
    for relative, (sha, _, _) in sorted(found.items()):
        if relative in used:
            continue
        if sha in originals and sha in located.values():
            twin = next(p.path for p in plan.images if p.sha256 == sha)
            report.files_without_row.append(f"images/{relative}: the same bytes as {twin} (one row in the original)")
        else:
            report.files_without_row.append(f"images/{relative}")
    for relative, reason in sorted(unreadable.items()):
        if not any(relative == image.img_path for image in images):
            report.files_without_row.append(f"images/{relative} (unreadable: {reason})")


def _csv_rows(folder: Path, report: OriginalImportReport) -> dict[str, importing.MetadataRow] | None:
    """Return metadata.csv's rows by filename, or None when there is none or it cannot be read (the database rules)."""
    path = folder / "metadata.csv"
    if not path.exists():
        return None
    try:
        return {row.filename: row for row in importing.read_metadata(path)}
    except importing.DatasetFolderInvalid as error:
        report.notes.append(f"metadata.csv is not read ({error}); the images' ground truth comes from the database")
        return None


def _csv_names(relative: str, img_path: str) -> list[str]:
    """Return the metadata.csv filename cells that name a file: the original's rule first (the name cut
    at its first dot), then EyeTagger's (the name with or without its extension)."""
    base = relative.rsplit("/", 1)[-1]
    names = [base.split(".")[0], base, base.rsplit(".", 1)[0], relative, relative.rsplit(".", 1)[0]]
    if img_path:
        names.append(img_path.rsplit("/", 1)[-1].split(".")[0])
    return names


# --- Users ----------------------------------------------------------------------------------


def _import_users(
    users: list[original_rows.OriginalUser],
    *,
    dataset: Dataset,
    user_map: dict[str, str],
    tokens: bool,
    report: OriginalImportReport,
) -> dict[int, User]:
    """Create or find the account of every original user; return original id -> account."""
    known = {u.username for u in users}
    unknown = sorted(set(user_map) - known)
    if unknown:
        raise ImportRefused(
            f"--map-user names {', '.join(unknown)}, who {'is' if len(unknown) == 1 else 'are'} not a user of the "
            f"original (its users: {', '.join(sorted(known))}).",
            code="unknown_user",
        )
    links = {
        link.original_id: link.user for link in OriginalAccount.objects.filter(dataset=dataset).select_related("user")
    }
    wanted = {u.id: user_map.get(u.username, u.username) for u in users}
    existing = {u.username: u for u in User.objects.filter(username__in=set(wanted.values()))}
    clashes = [u for u in users if u.id not in links and wanted[u.id] in existing and u.username not in user_map]
    if clashes:
        names = ", ".join(u.username for u in clashes)
        first = clashes[0].username
        raise ImportRefused(
            f"these usernames of the original are taken here already: {names}. Nothing was imported. Say for each "
            f"who they are: --map-user {first}={first} if they are the same person (their work joins that account, "
            f"whose password and role stay), or --map-user {first}={first}_original for a new account.",
            code="username_taken",
        )
    taken = Counter(wanted[u.id] for u in users if u.id not in links and wanted[u.id] not in existing)
    doubled = sorted(name for name, n in taken.items() if n > 1)
    if doubled:
        raise ImportRefused(
            f"--map-user gives several original users the new name {', '.join(doubled)}.", code="invalid"
        )
    accounts: dict[int, User] = {}
    for user in users:
        if user.id in links:
            accounts[user.id] = links[user.id]
            report.users_already.append(user.username)
            continue
        account = existing.get(wanted[user.id])
        if account is not None:
            report.users_mapped.append(f"{user.username} → {account.username} (existing account, kept as it is)")
        else:
            account = _create_user(user, wanted[user.id], report)
        OriginalAccount.objects.create(
            dataset=dataset, original_id=user.id, original_username=user.username, user=account
        )
        accounts[user.id] = account
        if tokens and user.token:
            _keep_token(user, account, report)
    return accounts


def _create_user(user: original_rows.OriginalUser, username: str, report: OriginalImportReport) -> User:
    """Create the account of an original user: the same password hash, flags and dates; admin or annotator."""
    account = User(
        username=username,
        email=user.email,
        password=user.password,  # Django's own hash, verbatim: the old password signs in (and is re-hashed then)
        first_name=user.first_name,
        last_name=user.last_name,
        is_active=user.is_active,
        is_superuser=user.is_superuser,
        last_login=user.last_login,
        date_joined=user.date_joined or timezone.now(),
    )
    try:
        account.full_clean(exclude=["password", "email", "first_name", "last_name"])  # kept as the original had them
    except ValidationError as error:
        raise ImportRefused(
            f"the original user {user.username!r} cannot be created as {username!r}: {' '.join(error.messages)} "
            f"Give them another name: --map-user {user.username}=NEW_NAME",
            code="invalid_username",
        ) from None
    account.save()
    Profile.objects.update_or_create(user=account, defaults={"is_test": user.is_test})
    user_set_role(user=account, role=Role.ADMIN if user.is_staff or user.is_superuser else Role.ANNOTATOR)
    created = f"{username}" + (f" (was {user.username})" if username != user.username else "")
    role = "admin" if user.is_staff or user.is_superuser else "annotator"
    test = (
        ", test user"
        if user.is_test
        else ", test user (an admin: their work no longer counts)"
        if role == "admin"
        else ""
    )
    report.users_created.append(f"{created}: {role}{test}" + ("" if user.is_active else ", inactive"))
    if not is_password_usable(user.password):
        report.user_notes.append(f"{username} has no usable password in the original either: set one to let them in")
    else:
        try:
            identify_hasher(user.password)
        except ValueError:
            report.user_notes.append(
                f"{username}'s password hash ({user.password.split('$', 1)[0]!r}) is of no hasher this server has: "
                "they must be given a new password"
            )
    return account


def _keep_token(user: original_rows.OriginalUser, account: User, report: OriginalImportReport) -> None:
    digest = token_digest(user.token)
    if ApiToken.objects.filter(user=account, digest=digest).exists():
        return  # imported before
    if ApiToken.objects.filter(digest=digest).exists():
        report.user_notes.append(f"{account.username}'s API token is another user's here already; not kept")
        return
    api_token_create(user=account, name="kept from the original EyeTagger", key=user.token)
    report.tokens.append(account.username)


# --- Annotations ----------------------------------------------------------------------------


def _batches(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def row_digest(row: original_rows.OriginalAnnotation) -> str:
    """Return the SHA-256 of what a row holds, so a later import sees whether it changed."""
    content = [row.annotation, row.svg, row.times, row.text, row.real_button, row.fake_button]
    return hashlib.sha256(json.dumps(content).encode()).hexdigest()


def _moment(ms: float | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, tz=UTC) if ms is not None else None


class _AnnotationImporter:
    """Import annotation rows a batch at a time, keeping what the report and the queue need."""

    def __init__(self, dataset, accounts, images_by_id, located, by_sha, labels, skip, report, decoder):
        self.decoder = decoder
        self.dataset = dataset
        self.accounts = accounts
        self.images_by_id = images_by_id
        self.located = located
        self.by_sha = by_sha
        self.labels = labels
        self.skip = skip
        self.report = report
        self.now = timezone.now()
        self.seen: set[tuple[int, int]] = set()  # (image, account) pairs met: two original users mapped to one
        self.active_ms: Counter = Counter()  # annotator id -> ms imported

    def prepare(self, batch: list[original_rows.OriginalAnnotation]) -> list:
        """Decide what each row of the batch needs and start decoding those to import; return the jobs."""
        keys = [self._target(row) for row in batch]
        images = {image.pk for image, _ in filter(None, keys)}
        existing = {
            (a.image_id, a.annotator_id): a
            for a in Annotation.objects.filter(image_id__in=images, annotator__in={u.pk for _, u in filter(None, keys)})
            .select_related("original")
            .defer("strokes")
        }
        todo, jobs = [], []
        for row, key in zip(batch, keys, strict=True):
            if key is None:
                continue
            image, account = key
            pair = (image.pk, account.pk)
            if pair in self.seen:
                self.report.annotations_skipped.append(
                    f"{row.where}: a second row for {account.username} on {image.path} (two original users mapped "
                    "to one account); the first is kept"
                )
                continue
            self.seen.add(pair)
            digest = row_digest(row)
            local = existing.get(pair)
            original = getattr(local, "original", None) if local is not None else None
            if original is not None and original.digest == digest:
                self.report.annotations_unchanged += 1
                continue
            if local is not None and (original is None or local.version != original.imported_version):
                self.report.annotations_kept.append(
                    f"{row.where}: {account.username} on {image.path} was "
                    + ("annotated here as well" if original is None else "changed here since its import")
                    + "; EyeTagger's version is kept"
                )
                continue
            todo.append((row, image, account, digest, local))
            jobs.append((row, image.width, image.height))
        # Decoding is the work of an import: it starts now, in the workers, and is waited for in write().
        return todo, self.decoder.submit(jobs)

    def write(self, prepared: tuple) -> None:
        """Build and store the annotations of a prepared batch, once its decoding has finished."""
        todo, decoded = prepared
        new_annotations, new_originals = [], []
        for (row, image, account, digest, local), recovery in zip(todo, decoded(), strict=True):
            annotation, original_record = self._build(row, image, account, digest, recovery)
            if local is None:
                new_annotations.append(annotation)
                new_originals.append(original_record)
            else:
                self._update(local, annotation, original_record)
        Annotation.objects.bulk_create(new_annotations, batch_size=BATCH)
        for annotation, original_record in zip(new_annotations, new_originals, strict=True):
            original_record.annotation = annotation
            self.active_ms[annotation.annotator_id] += annotation.active_ms
        OriginalAnnotation.objects.bulk_create(new_originals, batch_size=BATCH)
        Assignment.objects.bulk_create(
            [
                Assignment(
                    dataset=self.dataset, image=a.image, annotator=a.annotator, status=Assignment.Status.SUBMITTED
                )
                for a in new_annotations
            ],
            batch_size=BATCH,
            update_conflicts=True,
            unique_fields=["image", "annotator"],
            update_fields=["status", "leased_until", "skip_reason"],
        )
        self.report.annotations_created += len(new_annotations)

    def _target(self, row: original_rows.OriginalAnnotation) -> tuple[Image, User] | None:
        """Return the image and account of a row, or None (listed) when it is left out."""
        account = self.accounts.get(row.annotator_id)
        if account is None:
            raise OriginalInvalid(f"{row.where} names the annotator {row.annotator_id}, who is not in auth_user.")
        original_image = self.images_by_id.get(row.image_id)
        if original_image is None:
            raise OriginalInvalid(f"{row.where} names the image {row.image_id[:16]}…, which is not in api_image.")
        if row.id in self.skip:
            self.report.annotations_skipped.append(f"{row.where}: left out as asked (--skip-annotation)")
            return None
        sha = self.located.get(row.image_id)
        if sha is None or sha not in self.by_sha:
            self.report.annotations_skipped.append(
                f"{row.where}: its image {original_image.img_path} was not imported (missing, changed or unreadable)"
            )
            return None
        return self.by_sha[sha], account

    def _build(self, row, image: Image, account: User, digest: str, recovery: Decoded):
        """Return the annotation (and its original record) one decoded row makes."""
        for note in recovery.notes:
            self.report.annotation_notes.append(f"{row.where}: {note}")
        self.report.strokes_from[recovery.strokes_from] += 1
        if recovery.svg_iou is not None:
            self.report.svg_rows += 1
            if recovery.svg_pixels_differing:
                self.report.svg_differing.append((row.id, recovery.svg_pixels_differing, recovery.svg_iou))
        if row.both_buttons:
            self.report.annotation_notes.append(
                f"{row.where}: both buttons are set, which the app could not do; no answer"
            )
        untouched = original_rows.untouched_text(row.text)
        self.report.placeholder_texts += row.text is not None and untouched
        label = self.labels.get(row.label_button) if row.label_button else None
        client = {"imported_from": CLIENT_MARK, "original_id": row.id, "strokes_from": recovery.strokes_from}
        if recovery.device_pixel_ratio is not None:
            client["device_pixel_ratio"] = recovery.device_pixel_ratio
        annotation = Annotation(
            image=image,
            annotator=account,
            strokes=recovery.strokes,
            label=label,
            text="" if untouched else row.text,
            status=Annotation.Status.SUBMITTED,
            version=1,
            started_at=_moment(recovery.started_ms) or self.now,
            submitted_at=_moment(recovery.ended_ms),
            active_ms=recovery.active_ms,
            client=client,
            stroke_count=len(recovery.strokes),
            mask_area=recovery.mask_area,
            mask_rle=recovery.mask_rle,
        )
        original = OriginalAnnotation(
            original_id=row.id,
            png=recovery.png,
            svg=row.svg,
            times=row.times,
            text=row.text,
            real_button=row.real_button,
            fake_button=row.fake_button,
            ground_truth=row.ground_truth,
            device_pixel_ratio=recovery.device_pixel_ratio,
            strokes_from=recovery.strokes_from,
            svg_iou=recovery.svg_iou,
            svg_pixels_differing=recovery.svg_pixels_differing,
            notes=recovery.notes,
            digest=digest,
            imported_version=1,
        )
        return annotation, original

    def _update(self, local: Annotation, fresh: Annotation, original: OriginalAnnotation) -> None:
        """Bring an annotation imported before up to its row's new content, keeping the old as a revision."""
        local = Annotation.objects.select_for_update().get(pk=local.pk)
        AnnotationRevision.objects.create(
            annotation=local,
            version=local.version,
            strokes=local.strokes,
            chunked=local.chunked,  # saved incrementally since: the revision refers to its chunks
            stroke_count=local.stroke_count,
            label=local.label,
            text=local.text,
            status=local.status,
            reason=AnnotationRevision.Reason.OVERWRITE,
        )
        for name in (
            "strokes",
            "label",
            "text",
            "started_at",
            "submitted_at",
            "client",
            "stroke_count",
            "mask_area",
            "mask_rle",
        ):
            setattr(local, name, getattr(fresh, name))
        self.active_ms[local.annotator_id] += max(0, fresh.active_ms - local.active_ms)
        local.active_ms = max(local.active_ms, fresh.active_ms)
        local.status = Annotation.Status.SUBMITTED
        if local.chunked:
            stroke_chunks.chunks_retire(local, version=local.version + 1)
        local.version += 1
        local.save()
        original.imported_version = local.version
        OriginalAnnotation.objects.filter(annotation=local).delete()
        original.annotation = local
        original.save()
        self.report.annotations_updated.append(f"{original.original_id}: {local.annotator} on {local.image}")

    def finish(self) -> None:
        """Count what was imported into the queue's figures: fill levels, progress, time spent."""
        if not self.report.annotations_imported:
            return  # nothing new: the figures are right as they are
        queue.queue_recount(dataset=self.dataset)
        for annotator_id, ms in self.active_ms.items():
            AnnotatorProgress.objects.filter(dataset=self.dataset, annotator_id=annotator_id).update(
                active_ms=F("active_ms") + ms
            )
