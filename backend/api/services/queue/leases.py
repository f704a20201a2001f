"""Leases: the annotator's lock, the slots images have, and how a lease begins, is renewed and ends.

A lease ends by expiring (``release_expired_leases``), by a skip (``queue_skip``) or by a
submission (``annotation_saved``, which every save calls). ``take_slot`` is the one place a slot
is taken; see the package's docstring for why it never overshoots and in which order locks go.
"""

from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from ...models import Annotation, AnnotatorProgress, Assignment, Dataset, Image, Profile
from ...rows import row_read, row_update
from ...tracing import traced
from .counters import pool_changed

EXPIRED_BATCH = 100  # expired leases released per call; the rest go on the next calls
# A save renews its image's lease once the lease has run down by this much (or by a tenth of it,
# if less), not on every save: an annotator typing saves several times a minute, and each
# renewal rewrote the assignment's row and its seven index entries (``leased_until`` is indexed,
# so the update cannot be a heap-only one).
LEASE_RENEWAL_STEP = timedelta(minutes=1)


class ImageUnavailable(Exception):
    """The image already has every annotator it needs, and the caller holds no slot of it."""

    code = "image_full"

    def __init__(self, image: Image, message: str):
        super().__init__(message)
        self.image = image


# --- The annotator's lock ---------------------------------------------------------------


@traced("queue: the annotator's lock")
def progress_lock(*, dataset: Dataset, annotator: User) -> AnnotatorProgress:
    """Return the annotator's progress row on the dataset, created if needed and locked until commit.

    Every queue operation of one annotator on one dataset takes this lock first, so they run
    one after the other: two tabs calling ``next`` at once get the same image, not two. The row
    comes with ``is_test`` (the annotator's work never counts towards targets), read in the same
    query. Raw SQL: every save takes this lock, and building the query through the ORM cost ten
    times running it.
    """
    # Only this row: the model's ordering would join (and so lock) the dataset row too.
    lock = " FOR UPDATE OF p" if connection.features.has_select_for_update_of else ""
    sql = (
        f"SELECT p.*, COALESCE(pr.is_test, FALSE) AS is_test FROM {AnnotatorProgress._meta.db_table} p "
        f"LEFT JOIN {Profile._meta.db_table} pr ON pr.user_id = p.annotator_id "
        f"WHERE p.dataset_id = %s AND p.annotator_id = %s{lock}"
    )
    return locked_progress(sql, [dataset.pk, annotator.pk], dataset=dataset, annotator=annotator)


@traced("queue: the save's three locks")
def save_locks(*, image: Image, annotator: User) -> tuple[AnnotatorProgress, Annotation, Assignment] | None:
    """Return the annotator's progress, annotation and assignment of the image, locked until commit; or None.

    One statement, where ``progress_lock``, the annotation's lock and ``assignment_for`` take three
    (in this order, the queue's: the rows are locked as one). None, having locked nothing, when any
    of the three is missing: the caller then takes them one by one, creating what is missing.
    """
    lock = " FOR UPDATE OF p, a, s" if connection.features.has_select_for_update_of else ""
    columns = ", ".join(
        f"{alias}.{field.column} AS {name}__{field.column}"
        for alias, name, model in (("p", "progress", AnnotatorProgress), ("s", "assignment", Assignment))
        for field in model._meta.concrete_fields
    )
    sql = (
        f"SELECT a.*, {columns}, COALESCE(pr.is_test, FALSE) AS progress__is_test "
        f"FROM {AnnotatorProgress._meta.db_table} p "
        f"JOIN {Annotation._meta.db_table} a ON a.image_id = %s AND a.annotator_id = p.annotator_id "
        f"JOIN {Assignment._meta.db_table} s ON s.image_id = a.image_id AND s.annotator_id = p.annotator_id "
        f"LEFT JOIN {Profile._meta.db_table} pr ON pr.user_id = p.annotator_id "
        f"WHERE p.dataset_id = %s AND p.annotator_id = %s{lock}"
    )
    related = (("progress", AnnotatorProgress), ("assignment", Assignment))
    annotation = row_read(Annotation, sql, [image.pk, image.dataset_id, annotator.pk], related=related)
    if annotation is None:
        return None
    # The caller has the image with its dataset, and the annotator: no need to read them again.
    annotation.image = annotation.assignment.image = image
    annotation.annotator = annotation.assignment.annotator = annotator
    return annotation.progress, annotation, annotation.assignment


def locked_progress(sql: str, params: list, *, dataset: Dataset, annotator: User) -> AnnotatorProgress:
    """Return the progress row ``sql`` reads, first creating it if there is none."""
    progress = row_read(AnnotatorProgress, sql, params)
    if progress is None:
        # ON CONFLICT DO NOTHING: a concurrent first call may create it between our read and our insert.
        AnnotatorProgress.objects.bulk_create(
            [AnnotatorProgress(dataset=dataset, annotator=annotator)], ignore_conflicts=True
        )
        progress = row_read(AnnotatorProgress, sql, params)
    return progress


# --- Slots and leases ----------------------------------------------------------------------


def lease(assignment: Assignment, *, dataset: Dataset, now: datetime) -> None:
    """(Re)start the assignment's lease and save it."""
    assignment.leased_until = now + timedelta(minutes=dataset.lease_minutes)
    if assignment.pk is None:
        assignment.save()
    else:
        row_update(assignment, ["status", "leased_until", "skip_reason", "updated_at"])


def lease_renewal_due(leased_until: datetime | None, *, dataset: Dataset, now: datetime) -> bool:
    """Return True if a save at ``now`` renews a lease that ends at ``leased_until`` (``LEASE_RENEWAL_STEP``)."""
    minutes = timedelta(minutes=dataset.lease_minutes)
    return leased_until is None or leased_until < now + minutes - min(LEASE_RENEWAL_STEP, minutes / 10)


def assignment_for(*, image: Image, annotator: User) -> Assignment:
    """Return the annotator's assignment of the image, locked until commit, or a new unsaved one.

    Raw SQL, as ``progress_lock``: every save reads it.
    """
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    sql = f"SELECT * FROM {Assignment._meta.db_table} WHERE image_id = %s AND annotator_id = %s{lock}"
    existing = row_read(Assignment, sql, [image.pk, annotator.pk])
    if existing is not None:
        existing.image, existing.annotator = image, annotator  # the caller's: no need to read them again
        return existing
    return Assignment(dataset_id=image.dataset_id, image=image, annotator=annotator)


def take_slot(image_id: int, *, dataset: Dataset) -> bool:
    """Take one of the image's slots if it has room; return False if it is full.

    The one place a slot is taken (see the package's docstring for why it cannot overshoot), but
    for the picker's hot path, which runs the same UPDATE skipping held rows or answering the
    image's row (``picker._take_skipping_held``, ``picker._take_counting``).
    """
    rows = Image.objects.filter(pk=image_id)
    if dataset.annotators_per_image is not None:
        rows = rows.filter(reserved_count__lt=dataset.annotators_per_image)
    return rows.update(reserved_count=F("reserved_count") + 1) == 1


def take_slot_now(image_id: int, *, dataset: Dataset) -> bool:
    """Take one of the image's slots if it has room and no other transaction holds it; never wait.

    SQLite has no row locks (this transaction holds the database's write lock): as ``take_slot``.
    """
    if not connection.features.has_select_for_update_skip_locked:
        return take_slot(image_id, dataset=dataset)
    table = Image._meta.db_table
    room, params = "", [image_id]
    if dataset.annotators_per_image is not None:
        room, params = " AND reserved_count < %s", [image_id, dataset.annotators_per_image]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET reserved_count = reserved_count + 1 WHERE id = ("
            f"SELECT id FROM {table} WHERE id = %s FOR NO KEY UPDATE SKIP LOCKED){room}",
            params,
        )
        return cursor.rowcount == 1


class _NothingTaken(Exception):
    """Raised inside a savepoint to roll it back, with every row lock taken in it."""


def in_savepoint(take):
    """Return take()'s result; when it is None, roll back everything it did, row locks included.

    PostgreSQL keeps the lock of a row that was locked but then failed its re-check; rolling
    back the savepoint drops it, so a transaction never waits while holding such leftovers.
    """
    try:
        with transaction.atomic():
            result = take()
            if result is None:
                raise _NothingTaken
    except _NothingTaken:
        return None
    return result


# --- Leases expiring ---------------------------------------------------------------------


def relaxed_commit() -> None:
    """Let this transaction's COMMIT return before its WAL reaches the disk (PostgreSQL).

    For leases only: if the server crashed in the next few milliseconds, the lease and the slot
    it took would vanish together, and the annotator would simply be handed an image again. It
    saves a disk flush (several ms) on every ``next``. Annotations are never saved this way.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def release_expired_leases(*, dataset: Dataset, now: datetime | None = None, limit: int = EXPIRED_BATCH) -> int:
    """Give the slots of expired leases back to the pool; return how many were released.

    Runs at the start of every ``queue_next``, so no scheduler is needed. A lease another
    caller is releasing is waited for rather than skipped, so that once this returns every
    lease that had expired is released and counted in the pool version read next. Leases are
    locked in expiry order, images in id order, the dataset row last: concurrent callers never
    wait for each other in a cycle.
    """
    now = now or timezone.now()
    expired_leases = Assignment.objects.filter(dataset=dataset, status=Assignment.Status.LEASED, leased_until__lt=now)
    if not expired_leases.exists():
        return 0  # the usual case, answered by the index without a transaction
    with transaction.atomic():
        relaxed_commit()
        expired = list(
            Assignment.objects.select_for_update(of=("self",))
            .filter(dataset=dataset, status=Assignment.Status.LEASED, leased_until__lt=now)
            .order_by("leased_until", "pk")
            .values_list("pk", "image_id", "annotator_id")[:limit]
        )
        if not expired:
            return 0
        Assignment.objects.filter(pk__in=[pk for pk, _, _ in expired]).update(
            status=Assignment.Status.RELEASED, updated_at=now
        )
        testers = set(
            Profile.objects.filter(user_id__in={a for _, _, a in expired}, is_test=True).values_list(
                "user_id", flat=True
            )
        )
        freed: dict[int, int] = {}
        for _, image_id, annotator_id in expired:
            if annotator_id not in testers:
                freed[image_id] = freed.get(image_id, 0) + 1
        if freed:
            locked = Image.objects.select_for_update(no_key=True).filter(pk__in=freed).order_by("pk")
            list(locked.values_list("pk"))
            for image_id, n in sorted(freed.items()):
                Image.objects.filter(pk=image_id).update(reserved_count=F("reserved_count") - n)
        pool_changed(dataset=dataset)
        return len(expired)


# --- Skipping ------------------------------------------------------------------------------


@transaction.atomic
def queue_skip(*, image: Image, annotator: User, reason: str, now: datetime | None = None) -> Assignment:
    """Skip the image for this annotator with a reason: it never comes back to them, its slot goes to others."""
    now = now or timezone.now()
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": ValidationError("Say why you skip this image.", code="required")})
    dataset = image.dataset
    progress = progress_lock(dataset=dataset, annotator=annotator)
    assignment = assignment_for(image=image, annotator=annotator)
    if assignment.status == Assignment.Status.SUBMITTED and assignment.pk is not None:
        message = "You have submitted this image; a submitted image cannot be skipped (set it back to draft first)."
        raise ValidationError({"image": ValidationError(message, code="already_submitted")})
    held = assignment.pk is not None and assignment.status == Assignment.Status.LEASED
    if assignment.pk is not None and assignment.status == Assignment.Status.SKIPPED:
        assignment.skip_reason = reason[:500]
        assignment.save(update_fields=["skip_reason", "updated_at"])
        return assignment
    assignment.status = Assignment.Status.SKIPPED
    assignment.skip_reason = reason[:500]
    assignment.leased_until = None
    assignment.save()
    progress.skipped_count += 1
    progress.last_active_at = now
    progress.save(update_fields=["skipped_count", "last_active_at"])
    if held and not progress.is_test:
        Image.objects.filter(pk=image.pk).update(reserved_count=F("reserved_count") - 1)
        pool_changed(dataset=dataset)
    return assignment


# --- Keeping the queue in step with saved annotations ----------------------------------------


@traced("queue: keep in step with the save")
def annotation_saved(
    *,
    annotation: Annotation,
    before: dict | None,
    progress: AnnotatorProgress,
    assignment: Assignment | None = None,
    now: datetime | None = None,
) -> Assignment:
    """Bring the annotator's assignment, the image's counters and their progress in step with a saved annotation.

    Called by the saves and ``annotation_restore`` in their transaction, with the annotator's
    progress row they locked first (``progress_lock`` or ``save_locks``, which read ``is_test``
    with it). ``before`` is the annotation's ``status`` and ``active_ms`` before the change
    (None when it is new). ``assignment``: the one ``save_locks`` locked, else it is read here.
    A draft renews the lease (once it has run down by ``LEASE_RENEWAL_STEP``); a submission
    ends it. Saving an image the annotator holds no slot of takes one, and is refused with
    ImageUnavailable when the image already has every annotator it needs.
    """
    now = now or timezone.now()
    image = annotation.image
    dataset = image.dataset
    counted = not progress.is_test
    if assignment is None:
        assignment = assignment_for(image=image, annotator=annotation.annotator)
    old_status = assignment.status if assignment.pk is not None else None
    holds = old_status in (Assignment.Status.LEASED, Assignment.Status.SUBMITTED)
    if not holds and counted and not take_slot(image.pk, dataset=dataset):
        raise ImageUnavailable(
            image,
            f"This image already has the {dataset.annotators_per_image} annotator(s) it needs"
            + (", and your reservation of it expired" if old_status == Assignment.Status.RELEASED else "")
            + ". Ask for the next image instead.",
        )
    submitted = annotation.status == Annotation.Status.SUBMITTED
    new_status = Assignment.Status.SUBMITTED if submitted else Assignment.Status.LEASED
    delta = int(new_status == Assignment.Status.SUBMITTED) - int(old_status == Assignment.Status.SUBMITTED)
    if delta and counted:
        Image.objects.filter(pk=image.pk).update(submitted_count=F("submitted_count") + delta)
    assignment.status = new_status
    assignment.skip_reason = ""
    if submitted:
        assignment.leased_until = None
        if assignment.pk is None:
            assignment.save()
        else:
            row_update(assignment, ["status", "leased_until", "skip_reason", "updated_at"])
    elif old_status != Assignment.Status.LEASED or lease_renewal_due(assignment.leased_until, dataset=dataset, now=now):
        lease(assignment, dataset=dataset, now=now)

    progress.submitted_count += delta
    if old_status == Assignment.Status.SKIPPED:
        progress.skipped_count -= 1
    progress.active_ms += max(0, annotation.active_ms - (before or {}).get("active_ms", 0))
    progress.last_active_at = now
    row_update(progress, ["submitted_count", "skipped_count", "active_ms", "last_active_at"])
    return assignment
