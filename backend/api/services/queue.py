"""The assignment queue: handing out images under leases, skips, and the counters behind progress.

What the counters hold, kept true in the same transaction as every change (``queue_check``
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

Locks are always taken in one order: the annotator's progress row, their annotation, assignments,
images, the dataset row. Other annotators' rows are only taken with SKIP LOCKED (expired leases)
or never. So no two transactions can wait for each other in a cycle.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from ..models import Annotation, AnnotatorProgress, Assignment, Dataset, Image, Profile

EXPIRED_BATCH = 100  # expired leases released per call; the rest go on the next calls


class ImageUnavailable(Exception):
    """The image already has every annotator it needs, and the caller holds no slot of it."""

    code = "image_full"

    def __init__(self, image: Image, message: str):
        super().__init__(message)
        self.image = image


@dataclass(frozen=True)
class Handout:
    """What ``queue_next`` hands out: the image (None when nothing is left) and its lease."""

    image: Image | None
    assignment: Assignment | None
    resumed: bool = False


def is_test_user(user) -> bool:
    """Return True if the user's work never counts towards targets."""
    profile = getattr(user, "profile", None)
    return bool(profile and profile.is_test)


def counts_towards_target(user) -> bool:
    return not is_test_user(user)


# --- The annotator's lock ---------------------------------------------------------------


def progress_lock(*, dataset: Dataset, annotator: User) -> AnnotatorProgress:
    """Return the annotator's progress row on the dataset, created if needed and locked until commit.

    Every queue operation of one annotator on one dataset takes this lock first, so they run
    one after the other: two tabs calling ``next`` at once get the same image, not two.
    """
    rows = AnnotatorProgress.objects.select_for_update()
    progress = rows.filter(dataset=dataset, annotator=annotator).first()
    if progress is None:
        # ON CONFLICT DO NOTHING: a concurrent first call may create it between our read and our insert.
        AnnotatorProgress.objects.bulk_create(
            [AnnotatorProgress(dataset=dataset, annotator=annotator)], ignore_conflicts=True
        )
        progress = rows.get(dataset=dataset, annotator=annotator)
    return progress


# --- Handing out images -----------------------------------------------------------------


@transaction.atomic
def queue_next(*, dataset: Dataset, annotator: User, now: datetime | None = None) -> Handout:
    """Hand the annotator the image to work on now, reserved for them for the dataset's lease.

    First what they were doing (their leased image, then an image whose lease expired but
    still has room, most recent first), else a new image: one they have never been handed,
    at the lowest fill level (furthest from its target), first in their own order after the
    last image they were handed. None when nothing is left for them.
    """
    now = now or timezone.now()
    progress = progress_lock(dataset=dataset, annotator=annotator)
    release_expired_leases(dataset=dataset, now=now)
    # Read before searching: anything freed after this read bumps the version, so a search that
    # finds nothing is only trusted until then.
    pool_version = Dataset.objects.filter(pk=dataset.pk).values_list("pool_version", flat=True).get()
    counted = counts_towards_target(annotator)

    current = (
        Assignment.objects.filter(dataset=dataset, annotator=annotator, status=Assignment.Status.LEASED)
        .select_related("image")
        .order_by("-updated_at", "-pk")
        .first()
    )
    if current is not None:
        _lease(current, dataset=dataset, now=now)
        return Handout(current.image, current, resumed=True)

    returning = _reclaim_released(dataset=dataset, annotator=annotator, counted=counted, now=now)
    if returning is not None:
        return Handout(returning.image, returning, resumed=True)

    if dataset.images_per_annotator is not None and (
        progress.submitted_count + progress.skipped_count >= dataset.images_per_annotator
    ):
        return Handout(None, None)
    if progress.exhausted_version == pool_version:
        return Handout(None, None)  # searched since anything last came free: still nothing

    image = _take_new_image(dataset=dataset, annotator=annotator, progress=progress, counted=counted, wait=False)
    if image is None and connection.features.has_select_for_update_skip_locked:
        # The first pass skipped images other transactions held locked; some of them may still
        # have room. Only a pass that waits for those locks proves that nothing is left.
        image = _take_new_image(dataset=dataset, annotator=annotator, progress=progress, counted=counted, wait=True)
    if image is None:
        progress.exhausted_version = pool_version
        progress.save(update_fields=["exhausted_version"])
        return Handout(None, None)
    assignment = _assignment_for(image=image, annotator=annotator)
    assignment.status = Assignment.Status.LEASED
    _lease(assignment, dataset=dataset, now=now)
    progress.cursor_order = dataset.order
    progress.cursor_key = image.position if dataset.order == Dataset.Order.FILE else image.shuffle_key
    progress.cursor_image = image.pk
    progress.last_active_at = now
    progress.save(update_fields=["cursor_order", "cursor_key", "cursor_image", "last_active_at"])
    return Handout(image, assignment)


def _lease(assignment: Assignment, *, dataset: Dataset, now: datetime) -> None:
    """(Re)start the assignment's lease and save it."""
    assignment.leased_until = now + timedelta(minutes=dataset.lease_minutes)
    if assignment.pk is None:
        assignment.save()
    else:
        assignment.save(update_fields=["status", "leased_until", "skip_reason", "updated_at"])


def _assignment_for(*, image: Image, annotator: User) -> Assignment:
    """Return the annotator's assignment of the image, or a new unsaved one."""
    existing = Assignment.objects.select_for_update().filter(image=image, annotator=annotator).first()
    return existing or Assignment(dataset_id=image.dataset_id, image=image, annotator=annotator)


def _take_slot(image_id: int, *, dataset: Dataset) -> bool:
    """Take one of the image's slots if it has room; return False if it is full.

    The one place a slot is taken (see the module docstring for why it cannot overshoot).
    """
    rows = Image.objects.filter(pk=image_id)
    if dataset.annotators_per_image is not None:
        rows = rows.filter(reserved_count__lt=dataset.annotators_per_image)
    return rows.update(reserved_count=F("reserved_count") + 1) == 1


def _reclaim_released(*, dataset: Dataset, annotator: User, counted: bool, now: datetime) -> Assignment | None:
    """Re-lease the annotator's most recent image whose lease expired, if it still has room."""
    released = (
        Assignment.objects.filter(dataset=dataset, annotator=annotator, status=Assignment.Status.RELEASED)
        .select_related("image")
        .order_by("-updated_at", "-pk")
    )
    if counted and dataset.annotators_per_image is not None:
        released = released.filter(image__reserved_count__lt=dataset.annotators_per_image)
    for assignment in released[:5]:
        if counted and not _take_slot(assignment.image_id, dataset=dataset):
            continue  # filled up since we read it
        assignment.status = Assignment.Status.LEASED
        _lease(assignment, dataset=dataset, now=now)
        return assignment
    return None


def _take_new_image(
    *, dataset: Dataset, annotator: User, progress: AnnotatorProgress, counted: bool, wait: bool
) -> Image | None:
    """Find, lock and reserve the next image the annotator has never been handed; None if there is none.

    With ``wait`` False, images locked by other transactions are skipped (SKIP LOCKED), so
    annotators working at once fan out; with ``wait`` True, they are waited for and re-read.
    """
    target = dataset.annotators_per_image if counted else None
    file_order = dataset.order == Dataset.Order.FILE
    if progress.cursor_order == dataset.order and progress.cursor_key is not None:
        cursor = (progress.cursor_key, progress.cursor_image or 0)
    elif file_order:
        cursor = (-1, -1)
    else:
        cursor = (dataset.start_key_for(annotator.pk), -1)
    level = 0
    while True:
        if target is not None:
            level = _lowest_level(dataset=dataset, at_least=level, below=target)
            if level is None:
                return None
        for after in (True, False):  # from the cursor on, then from the start up to the cursor
            image = _pick(
                dataset=dataset,
                annotator=annotator,
                level=level if target is not None else None,
                cursor=cursor,
                after=after,
                file_order=file_order,
                wait=wait,
            )
            if image is None:
                continue
            if not counted or _take_slot(image.pk, dataset=dataset):
                if counted:
                    image.reserved_count += 1
                return image
            # Locked but full: impossible while the pick's condition holds, kept as a guard.
        if target is None:
            return None
        level += 1


def _lowest_level(*, dataset: Dataset, at_least: int, below: int) -> int | None:
    """Return the lowest fill level >= at_least that any image of the dataset is at, below the target."""
    return (
        Image.objects.filter(dataset=dataset, reserved_count__gte=at_least, reserved_count__lt=below)
        .order_by("reserved_count")
        .values_list("reserved_count", flat=True)
        .first()
    )


def _pick(
    *,
    dataset: Dataset,
    annotator: User,
    level: int | None,
    cursor: tuple[int, int],
    after: bool,
    file_order: bool,
    wait: bool,
) -> Image | None:
    """Lock and return the first image in the annotator's order, on one side of the cursor, never handed to them.

    Raw SQL because the ORM has no row-value comparison, which is what lets the index
    (dataset, reserved_count, key, id) start the scan right at the cursor.
    """
    image_table = Image._meta.db_table
    assignment_table = Assignment._meta.db_table
    key = "position" if file_order else "shuffle_key"
    conditions = ["i.dataset_id = %s"]
    params: list = [dataset.pk]
    if level is not None:
        conditions.append("i.reserved_count = %s")
        params.append(level)
    conditions.append(f"(i.{key}, i.id) {'>' if after else '<='} (%s, %s)")
    params += list(cursor)
    conditions.append(
        f"NOT EXISTS (SELECT 1 FROM {assignment_table} a WHERE a.image_id = i.id AND a.annotator_id = %s)"
    )
    params.append(annotator.pk)
    sql = f"SELECT i.* FROM {image_table} i WHERE {' AND '.join(conditions)} ORDER BY i.{key}, i.id LIMIT 1"
    if connection.features.has_select_for_update_skip_locked:
        # SQLite has no row locks; there the transaction holds the database's write lock instead.
        sql += " FOR UPDATE OF i" if wait else " FOR UPDATE OF i SKIP LOCKED"
    return next(iter(Image.objects.raw(sql, params)), None)


# --- Leases expiring ---------------------------------------------------------------------


def release_expired_leases(*, dataset: Dataset, now: datetime | None = None, limit: int = EXPIRED_BATCH) -> int:
    """Give the slots of expired leases back to the pool; return how many were released.

    Runs inside ``queue_next``, so no scheduler is needed. Leases another transaction is
    working on are skipped (SKIP LOCKED), and images are locked in id order, so concurrent
    callers never deadlock.
    """
    now = now or timezone.now()
    with transaction.atomic():
        expired = list(
            Assignment.objects.select_for_update(skip_locked=True)
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
            list(Image.objects.select_for_update().filter(pk__in=freed).order_by("pk").values_list("pk"))
            for image_id, n in sorted(freed.items()):
                Image.objects.filter(pk=image_id).update(reserved_count=F("reserved_count") - n)
        _pool_changed(dataset)
        return len(expired)


def _pool_changed(dataset: Dataset) -> None:
    """Note that images may have become available, so annotators found to be finished are searched again."""
    Dataset.objects.filter(pk=dataset.pk).update(pool_version=F("pool_version") + 1)


def pool_changed(*, dataset: Dataset) -> None:
    """Public form of _pool_changed for the other services (import, settings, user changes)."""
    _pool_changed(dataset)


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
    assignment = _assignment_for(image=image, annotator=annotator)
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
    if held and counts_towards_target(annotator):
        Image.objects.filter(pk=image.pk).update(reserved_count=F("reserved_count") - 1)
        _pool_changed(dataset)
    return assignment


# --- Keeping the queue in step with saved annotations ----------------------------------------


def annotation_saved(
    *, annotation: Annotation, before: dict | None, progress: AnnotatorProgress, now: datetime | None = None
) -> Assignment:
    """Bring the annotator's assignment, the image's counters and their progress in step with a saved annotation.

    Called by ``annotation_save`` and ``annotation_restore`` in their transaction, with the
    annotator's progress row they locked first (``progress_lock``). ``before`` is the annotation's
    ``status`` and ``active_ms`` before the change (None when it is new). A draft renews the
    lease; a submission ends it. Saving an image the annotator holds no slot of takes one, and
    is refused with ImageUnavailable when the image already has every annotator it needs.
    """
    now = now or timezone.now()
    image = annotation.image
    dataset = image.dataset
    annotator = annotation.annotator
    counted = counts_towards_target(annotator)
    assignment = _assignment_for(image=image, annotator=annotator)
    old_status = assignment.status if assignment.pk is not None else None
    holds = old_status in (Assignment.Status.LEASED, Assignment.Status.SUBMITTED)
    if not holds and counted and not _take_slot(image.pk, dataset=dataset):
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
            assignment.save(update_fields=["status", "leased_until", "skip_reason", "updated_at"])
    else:
        _lease(assignment, dataset=dataset, now=now)

    progress.submitted_count += delta
    if old_status == Assignment.Status.SKIPPED:
        progress.skipped_count -= 1
    progress.active_ms += max(0, annotation.active_ms - (before or {}).get("active_ms", 0))
    progress.last_active_at = now
    progress.save(update_fields=["submitted_count", "skipped_count", "active_ms", "last_active_at"])
    return assignment


# --- Counting, checking, rebuilding ------------------------------------------------------------


def queue_check(*, dataset: Dataset) -> list[str]:
    """Return every counter of the dataset that disagrees with its assignments (empty when consistent)."""
    problems = []
    testers = Profile.objects.filter(is_test=True).values("user_id")
    counted = Assignment.objects.filter(dataset=dataset).exclude(annotator__in=testers)
    reserved = dict(
        counted.filter(status__in=[Assignment.Status.LEASED, Assignment.Status.SUBMITTED])
        .values_list("image_id")
        .annotate(n=Count("pk"))
    )
    submitted = dict(counted.filter(status=Assignment.Status.SUBMITTED).values_list("image_id").annotate(n=Count("pk")))
    for pk, path, r, s in Image.objects.filter(dataset=dataset).values_list(
        "pk", "path", "reserved_count", "submitted_count"
    ):
        if r != reserved.get(pk, 0) or s != submitted.get(pk, 0):
            problems.append(f"{path}: counts {r}/{s}, assignments {reserved.get(pk, 0)}/{submitted.get(pk, 0)}")
        if dataset.annotators_per_image is not None and r > dataset.annotators_per_image:
            problems.append(f"{path}: {r} annotators, past its target of {dataset.annotators_per_image}")
    per_annotator = {
        row["annotator_id"]: row
        for row in Assignment.objects.filter(dataset=dataset)
        .values("annotator_id")
        .annotate(
            submitted=Count("pk", filter=Q(status=Assignment.Status.SUBMITTED)),
            skipped=Count("pk", filter=Q(status=Assignment.Status.SKIPPED)),
        )
    }
    for progress in AnnotatorProgress.objects.filter(dataset=dataset):
        row = per_annotator.get(progress.annotator_id, {"submitted": 0, "skipped": 0})
        if (progress.submitted_count, progress.skipped_count) != (row["submitted"], row["skipped"]):
            problems.append(
                f"annotator {progress.annotator_id}: progress {progress.submitted_count}/{progress.skipped_count}, "
                f"assignments {row['submitted']}/{row['skipped']}"
            )
    if Dataset.objects.get(pk=dataset.pk).image_count != Image.objects.filter(dataset=dataset).count():
        problems.append("image_count differs from the number of images")
    return problems


@transaction.atomic
def queue_recount(*, dataset: Dataset) -> None:
    """Rebuild the dataset's counters from its assignments (after a user became or stopped being a test user)."""
    recount_dataset(dataset_id=dataset.pk)
    _pool_changed(dataset)


def recount_dataset(*, dataset_id: int, models=None) -> None:
    """Rebuild one dataset's counters. ``models`` lets a data migration pass its historical models."""
    models = models or {
        "Image": Image,
        "Assignment": Assignment,
        "AnnotatorProgress": AnnotatorProgress,
        "Annotation": Annotation,
        "Dataset": Dataset,
        "Profile": Profile,
    }
    image_model, assignment_model = models["Image"], models["Assignment"]
    progress_model = models["AnnotatorProgress"]
    testers = models["Profile"].objects.filter(is_test=True).values("user_id")
    counted = assignment_model.objects.filter(dataset_id=dataset_id).exclude(annotator_id__in=testers)
    reserved = dict(counted.filter(status__in=["leased", "submitted"]).values_list("image_id").annotate(n=Count("pk")))
    submitted = dict(counted.filter(status="submitted").values_list("image_id").annotate(n=Count("pk")))
    # Lock the images in id order first, as release_expired_leases does, so the two never deadlock.
    current = image_model.objects.select_for_update().filter(dataset_id=dataset_id).order_by("pk")
    changed = []
    for image in current.only("pk", "reserved_count", "submitted_count").iterator(chunk_size=5000):
        r, s = reserved.get(image.pk, 0), submitted.get(image.pk, 0)
        if (image.reserved_count, image.submitted_count) != (r, s):
            image.reserved_count, image.submitted_count = r, s
            changed.append(image)
    image_model.objects.bulk_update(changed, ["reserved_count", "submitted_count"], batch_size=2000)

    per_annotator = (
        assignment_model.objects.filter(dataset_id=dataset_id)
        .values("annotator_id")
        .annotate(
            submitted=Count("pk", filter=Q(status="submitted")),
            skipped=Count("pk", filter=Q(status="skipped")),
        )
    )
    for row in per_annotator:
        progress_model.objects.get_or_create(dataset_id=dataset_id, annotator_id=row["annotator_id"])
        progress_model.objects.filter(dataset_id=dataset_id, annotator_id=row["annotator_id"]).update(
            submitted_count=row["submitted"], skipped_count=row["skipped"]
        )
    models["Dataset"].objects.filter(pk=dataset_id).update(
        image_count=image_model.objects.filter(dataset_id=dataset_id).count()
    )


def user_datasets_recount(*, user: User) -> None:
    """Rebuild the counters of every dataset the user has worked on (their test flag changed)."""
    for dataset in Dataset.objects.filter(pk__in=Assignment.objects.filter(annotator=user).values("dataset")):
        queue_recount(dataset=dataset)
