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

Locks are always taken in one order: the annotator's progress row, their annotation, their
assignments (leases in expiry order, as ``release_expired_leases`` takes them), images, the
dataset row (always last, see ``_pool_changed``). A transaction that waits for an image holds
no other image (pickers drop leftovers with a savepoint; images leased ahead are taken with
SKIP LOCKED, never waited for); those that wait while holding several (releasing expired
leases, recounting) take them in id order. So no two transactions can wait for each other in a
cycle; the concurrency tests on PostgreSQL check it.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.core.cache import cache
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
    """What ``queue_next`` hands out: the image (None when nothing is left), its lease, and the annotator's progress."""

    image: Image | None
    assignment: Assignment | None
    progress: AnnotatorProgress
    pool_version: int
    is_test: bool
    in_progress: int  # images leased to the annotator now (at most HELD_LIMIT counted)
    eligible: int  # non-test annotators who may work on the dataset (their share of the work)
    resumed: bool = False
    ahead: tuple[Image, ...] = ()  # further images leased to the annotator, in queue order (``ahead=k``)


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
    params = [dataset.pk, annotator.pk]
    progress = next(iter(AnnotatorProgress.objects.raw(sql, params)), None)
    if progress is None:
        _create_progress(dataset=dataset, annotator=annotator)
        progress = next(iter(AnnotatorProgress.objects.raw(sql, params)))
    return progress


def _create_progress(*, dataset: Dataset, annotator: User) -> None:
    # ON CONFLICT DO NOTHING: a concurrent first call may create it between our read and our insert.
    AnnotatorProgress.objects.bulk_create(
        [AnnotatorProgress(dataset=dataset, annotator=annotator)], ignore_conflicts=True
    )


def _progress_lock_for_hand_out(*, dataset: Dataset, annotator: User, now: datetime) -> AnnotatorProgress:
    """``progress_lock`` that also answers, in the same query, what a hand-out needs first.

    ``pool_version_now`` (the dataset's, read with the lock), ``is_test``, ``leases_expired``
    (are there expired leases to release first), ``holds`` (has the annotator leased or
    released images to come back to); on PostgreSQL it also relaxes the commit
    (``set_config`` is ``SET LOCAL``). Raw SQL: each query is a round trip, and building this
    one through the ORM cost more than running it.
    """
    relax = ", set_config('synchronous_commit', 'off', true) AS relaxed" if connection.vendor == "postgresql" else ""
    lock = " FOR UPDATE OF p" if connection.features.has_select_for_update_of else ""
    sql = (
        f"SELECT p.*, d.pool_version AS pool_version_now, COALESCE(pr.is_test, FALSE) AS is_test, "
        f"EXISTS (SELECT 1 FROM {Assignment._meta.db_table} a WHERE a.dataset_id = p.dataset_id "
        f"AND a.status = %s AND a.leased_until < %s) AS leases_expired, "
        f"EXISTS (SELECT 1 FROM {Assignment._meta.db_table} h WHERE h.annotator_id = p.annotator_id "
        f"AND h.dataset_id = p.dataset_id AND h.status IN (%s, %s)) AS holds{relax} "
        f"FROM {AnnotatorProgress._meta.db_table} p "
        f"JOIN {Dataset._meta.db_table} d ON d.id = p.dataset_id "
        f"LEFT JOIN {Profile._meta.db_table} pr ON pr.user_id = p.annotator_id "
        f"WHERE p.dataset_id = %s AND p.annotator_id = %s{lock}"
    )
    params = [
        Assignment.Status.LEASED.value,
        connection.ops.adapt_datetimefield_value(now),
        Assignment.Status.LEASED.value,
        Assignment.Status.RELEASED.value,
        dataset.pk,
        annotator.pk,
    ]
    progress = next(iter(AnnotatorProgress.objects.raw(sql, params)), None)
    if progress is None:
        _create_progress(dataset=dataset, annotator=annotator)
        progress = next(iter(AnnotatorProgress.objects.raw(sql, params)))
    return progress


ELIGIBLE_CACHE_SECONDS = 60


def eligible_annotators(dataset: Dataset) -> int:
    """Return how many non-test, active annotators may work on the dataset: whom its work is shared among.

    Only the expected totals shown to annotators depend on it, so it is counted at most once a
    minute per dataset (a new account shows in others' totals within a minute).
    """
    key = f"eyetagger:eligible:{dataset.pk}:{dataset.access}"
    count = cache.get(key)
    if count is None:
        if dataset.access == Dataset.Access.CHOSEN:
            users = dataset.annotators.filter(is_active=True)
        else:
            users = User.objects.filter(groups__name="annotator", is_active=True, is_staff=False)
        count = users.exclude(profile__is_test=True).count()  # one row per user: group names are unique
        cache.set(key, count, ELIGIBLE_CACHE_SECONDS)
    return count


# --- Handing out images -----------------------------------------------------------------


def queue_next(*, dataset: Dataset, annotator: User, now: datetime | None = None, ahead: int = 0) -> Handout:
    """Hand the annotator the image to work on now, reserved for them for the dataset's lease.

    First what they were doing (their leased images in the order they were handed out, then
    images whose lease expired but still have room, in the same order), else a new image: one
    they have never been handed, at the lowest fill level (furthest from its target), first
    in their own order after the last image they were handed. None when nothing is left for them.

    ``ahead`` (0 to MAX_AHEAD) asks for up to that many further images leased to them in the
    same order, to work on while the server cannot be reached: the leased ones after the
    first, then ones whose lease expired, then new ones. They are leases like any other (each
    takes a slot and counts towards its image's target at once, expires and is renewed the
    same way), are renewed by every ``next``, and never take the annotator past their
    expected share (``annotator_share``). They are taken only where no one else holds the
    image at that moment, never waiting, so fewer may come back than were asked for.

    Expired leases are released first, in a transaction of their own (the hand-out's first
    query tells whether there are any), so the hand-out never holds more than one image lock
    while it waits.
    """
    now = now or timezone.now()
    ahead = max(0, min(int(ahead), MAX_AHEAD))
    for attempt in range(3):
        try:
            return _hand_out(
                dataset=dataset, annotator=annotator, now=now, wait=False, release=attempt < 2, ahead=ahead
            )
        except _ReleaseFirst:
            release_expired_leases(dataset=dataset, now=now)
        except _RetryWaiting:
            # Every image with room was held by others: start again in a new transaction (which
            # drops any lock the first one held) that waits for them, one at a time.
            return _hand_out(dataset=dataset, annotator=annotator, now=now, wait=True, release=False, ahead=ahead)
    raise AssertionError("unreachable: the last attempt does not release")  # pragma: no cover


def _relaxed_commit() -> None:
    """Let this transaction's COMMIT return before its WAL reaches the disk (PostgreSQL).

    For leases only: if the server crashed in the next few milliseconds, the lease and the slot
    it took would vanish together, and the annotator would simply be handed an image again. It
    saves a disk flush (several ms) on every ``next``. Annotations are never saved this way.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


HELD_LIMIT = 50  # an annotator's leased and released assignments read at once
MAX_AHEAD = 20  # most images leased ahead in one call


def share_of(*, images: int, annotators_per_image: int | None, quota: int | None, eligible: int, is_test: bool) -> int:
    """Return how many of a dataset's images one annotator is expected to handle, before counting their work.

    Every image when every annotator sees every image (and for test users); with a target of
    k annotators per image, their fair share ceil(images * k / eligible annotators); never
    more than the quota.
    """
    total = images
    if annotators_per_image is not None and not is_test:
        total = min(total, math.ceil(images * annotators_per_image / max(eligible, 1)))
    if quota is not None:
        total = min(total, quota)
    return total


def annotator_share(*, dataset: Dataset, eligible: int, is_test: bool) -> int:
    """Return ``share_of`` for the dataset: the most images one annotator handles and holds with images leased ahead."""
    return share_of(
        images=dataset.image_count,
        annotators_per_image=dataset.annotators_per_image,
        quota=dataset.images_per_annotator,
        eligible=eligible,
        is_test=is_test,
    )


@transaction.atomic
def _hand_out(*, dataset: Dataset, annotator: User, now: datetime, wait: bool, release: bool, ahead: int) -> Handout:
    progress = _progress_lock_for_hand_out(dataset=dataset, annotator=annotator, now=now)
    if progress.leases_expired and release:
        raise _ReleaseFirst  # rolls this transaction back; queue_next releases them and comes back
    eligible = eligible_annotators(dataset) if dataset.annotators_per_image is not None else 0
    # Read (with the progress row) before searching: anything freed after this read bumps the
    # version, so a search that finds nothing is only trusted until then.
    pool_version = progress.pool_version_now
    is_test = bool(progress.is_test)
    counted = not is_test

    leased = _leased(dataset=dataset, annotator=annotator) if progress.holds else []
    resumed = bool(leased)
    if leased:
        current = leased[0]
        _renew(leased[: 1 + ahead], dataset=dataset, now=now)  # else renewed moments ago: a reload writes nothing
    else:
        current = None
        if progress.holds:
            returning = _reclaim_released(
                _released(dataset=dataset, annotator=annotator, counted=counted, limit=5),
                dataset=dataset,
                counted=counted,
                now=now,
                wait=True,
                limit=1,
            )
            current = returning[0] if returning else None
            resumed = current is not None
        if current is None:
            nothing = Handout(None, None, progress, pool_version, is_test, 0, eligible)
            if dataset.images_per_annotator is not None and (
                progress.submitted_count + progress.skipped_count >= dataset.images_per_annotator
            ):
                return nothing
            if progress.exhausted_version == pool_version:
                return nothing  # searched since anything last came free: still nothing
            try:
                image = _take_new_image(
                    dataset=dataset, annotator=annotator, progress=progress, counted=counted, wait=wait
                )
            except _Contended:
                return nothing  # every image left is being taken right now: nothing proven, nothing noted
            if image is None:
                progress.exhausted_version = pool_version
                progress.save(update_fields=["exhausted_version"])
                return nothing
            current = _new_lease(image, dataset=dataset, annotator=annotator, progress=progress, now=now)
            progress.last_active_at = now
            progress.save(update_fields=["cursor_order", "cursor_key", "cursor_image", "last_active_at"])
        leased = [current]

    further = [a.image for a in leased[1 : 1 + ahead]]
    held = len(leased)
    room = min(
        ahead - len(further),
        annotator_share(dataset=dataset, eligible=eligible, is_test=is_test)
        - (progress.submitted_count + progress.skipped_count + held),
    )
    if room > 0:
        taken = _take_ahead(
            dataset=dataset, annotator=annotator, progress=progress, counted=counted, now=now, room=room
        )
        further += taken
        held += len(taken)
    return Handout(current.image, current, progress, pool_version, is_test, held, eligible, resumed, tuple(further))


def _leased(*, dataset: Dataset, annotator: User) -> list[Assignment]:
    """Return the annotator's leased assignments in the order they were first handed out, locked until commit.

    Locked because ``release_expired_leases`` may release one meanwhile; in expiry order, as it
    locks them, so the two never wait for each other in a cycle.
    """
    rows = (
        Assignment.objects.select_for_update(of=("self",))
        .filter(dataset=dataset, annotator=annotator, status=Assignment.Status.LEASED)
        .select_related("image")
        .order_by("leased_until", "pk")[:HELD_LIMIT]
    )
    return sorted(rows, key=lambda a: a.pk)


def _released(*, dataset: Dataset, annotator: User, counted: bool, limit: int) -> list[Assignment]:
    """Return the annotator's images whose lease expired and that still have room, in the order they were handed out."""
    rows = Assignment.objects.filter(dataset=dataset, annotator=annotator, status=Assignment.Status.RELEASED)
    if counted and dataset.annotators_per_image is not None:
        rows = rows.filter(image__reserved_count__lt=dataset.annotators_per_image)
    return list(rows.select_related("image").order_by("pk")[:limit])


def _renew(assignments: list[Assignment], *, dataset: Dataset, now: datetime) -> None:
    """Start the leases again that have run for more than a tenth of their length, in one statement."""
    length = timedelta(minutes=dataset.lease_minutes)
    due = [a for a in assignments if a.leased_until is None or a.leased_until - now < length * 0.9]
    if due:
        Assignment.objects.filter(pk__in=[a.pk for a in due]).update(leased_until=now + length, updated_at=now)
        for assignment in due:
            assignment.leased_until = now + length


def _new_lease(image: Image, *, dataset: Dataset, annotator: User, progress: AnnotatorProgress, now: datetime):
    """Lease a new image (its slot already taken) and move the annotator's cursor to it (saved by the caller)."""
    # The walk only takes images never handed to this annotator: the assignment is new.
    assignment = Assignment(dataset=dataset, image=image, annotator=annotator, status=Assignment.Status.LEASED)
    _lease(assignment, dataset=dataset, now=now)
    progress.cursor_order = dataset.order
    progress.cursor_key = image.position if dataset.order == Dataset.Order.FILE else image.shuffle_key
    progress.cursor_image = image.pk
    return assignment


def _take_ahead(
    *, dataset: Dataset, annotator: User, progress: AnnotatorProgress, counted: bool, now: datetime, room: int
) -> list[Image]:
    """Lease up to ``room`` further images without waiting for any: released ones with room, then new ones.

    This transaction already holds the slot of the current image, so it must never wait for
    another image's lock (a transaction releasing leases could hold that one and wait for
    ours): every slot here is taken with SKIP LOCKED, and an image someone else holds right
    now is simply not taken ahead.
    """
    taken = [
        a.image
        for a in _reclaim_released(
            _released(dataset=dataset, annotator=annotator, counted=counted, limit=room + 5) if progress.holds else [],
            dataset=dataset,
            counted=counted,
            now=now,
            wait=False,
            limit=room,
        )
    ]
    if len(taken) >= room or progress.exhausted_version == progress.pool_version_now:
        return taken
    moved = False
    while len(taken) < room:
        image = _take_new_image_now(dataset=dataset, annotator=annotator, progress=progress, counted=counted)
        if image is None:
            break
        _new_lease(image, dataset=dataset, annotator=annotator, progress=progress, now=now)
        taken.append(image)
        moved = True
    if moved:
        progress.save(update_fields=["cursor_order", "cursor_key", "cursor_image"])
    return taken


def _lease(assignment: Assignment, *, dataset: Dataset, now: datetime) -> None:
    """(Re)start the assignment's lease and save it."""
    assignment.leased_until = now + timedelta(minutes=dataset.lease_minutes)
    if assignment.pk is None:
        assignment.save()
    else:
        assignment.save(update_fields=["status", "leased_until", "skip_reason", "updated_at"])


def _assignment_for(*, image: Image, annotator: User) -> Assignment:
    """Return the annotator's assignment of the image, locked until commit, or a new unsaved one.

    Raw SQL, as ``progress_lock``: every save reads it.
    """
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    sql = f"SELECT * FROM {Assignment._meta.db_table} WHERE image_id = %s AND annotator_id = %s{lock}"
    existing = next(iter(Assignment.objects.raw(sql, [image.pk, annotator.pk])), None)
    if existing is not None:
        existing.image, existing.annotator = image, annotator  # the caller's: no need to read them again
        return existing
    return Assignment(dataset_id=image.dataset_id, image=image, annotator=annotator)


def _take_slot(image_id: int, *, dataset: Dataset) -> bool:
    """Take one of the image's slots if it has room; return False if it is full.

    The one place a slot is taken (see the module docstring for why it cannot overshoot).
    """
    rows = Image.objects.filter(pk=image_id)
    if dataset.annotators_per_image is not None:
        rows = rows.filter(reserved_count__lt=dataset.annotators_per_image)
    return rows.update(reserved_count=F("reserved_count") + 1) == 1


def _take_slot_now(image_id: int, *, dataset: Dataset) -> bool:
    """Take one of the image's slots if it has room and no other transaction holds it; never wait.

    SQLite has no row locks (this transaction holds the database's write lock): as ``_take_slot``.
    """
    if not connection.features.has_select_for_update_skip_locked:
        return _take_slot(image_id, dataset=dataset)
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


def _reclaim_released(
    released: list[Assignment], *, dataset: Dataset, counted: bool, now: datetime, wait: bool, limit: int
) -> list[Assignment]:
    """Re-lease up to ``limit`` of the annotator's images whose lease expired, if they still have room.

    ``wait`` False: never wait for an image another transaction holds (see ``_take_ahead``).
    """
    returning = []
    for assignment in released:
        if len(returning) >= limit:
            break
        if counted:
            take = _take_slot if wait else _take_slot_now
            if not _in_savepoint(lambda: take(assignment.image_id, dataset=dataset) or None):  # noqa: B023
                continue  # filled up since we read it (or, not waiting, held by someone right now)
        assignment.status = Assignment.Status.LEASED
        _lease(assignment, dataset=dataset, now=now)
        returning.append(assignment)
    return returning


MAX_WAITS = 20  # images waited for, one at a time, after a SKIP LOCKED pass found none free
BUCKET_FETCH = 500  # most images read from one bucket of the random order (about BUCKET_SIZE are expected)


class _Contended(Exception):
    """Every image left was held by other transactions, and waiting for them did not free one in time."""


class _ReleaseFirst(Exception):
    """Expired leases must be released (in a transaction of their own) before handing out."""


class _RetryWaiting(Exception):
    """The pass that skips held images found none free: try again, waiting for them."""


class _NothingTaken(Exception):
    """Raised inside a savepoint to roll it back, with every row lock taken in it."""


def _in_savepoint(take):
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


def _take_new_image(
    *, dataset: Dataset, annotator: User, progress: AnnotatorProgress, counted: bool, wait: bool
) -> Image | None:
    """Find and reserve the next image the annotator has never been handed; None when there is none.

    With a target, on PostgreSQL: first (``wait`` False) a pass that takes the first candidate
    no other transaction holds (SKIP LOCKED), so annotators working at once fan out over
    different images; it raises _RetryWaiting if every candidate was held, since a held image
    may still have room once its holder is done. Then (``wait`` True, in a new transaction):
    one image at a time, find the first candidate ignoring locks and wait for that image alone;
    none left ignoring locks proves that nothing is left.
    """
    target = dataset.annotators_per_image if counted else None
    walk = _Walk(dataset=dataset, annotator=annotator, progress=progress, target=target)
    if target is None or not connection.features.has_select_for_update_skip_locked:
        # No slot to compete for (every annotator sees every image, or a test user), or SQLite,
        # where this transaction already holds the database's only write lock.
        image = walk.first(take=False)
        if image is not None and counted:
            _take_slot(image.pk, dataset=dataset)
            image.reserved_count += 1
        return image
    if not wait:
        image = walk.first(take=True)
        if image is None:
            raise _RetryWaiting
        return image
    for _ in range(MAX_WAITS):
        candidate = walk.first(take=False)
        if candidate is None:
            return None
        image = _in_savepoint(lambda: _claim(candidate, dataset=dataset))  # noqa: B023 - called at once
        if image is not None:
            return image
    raise _Contended


def _take_new_image_now(
    *, dataset: Dataset, annotator: User, progress: AnnotatorProgress, counted: bool
) -> Image | None:
    """Find and reserve the next new image as ``_take_new_image`` does, but never wait for a lock held by another.

    None when nothing is free right now. When every annotator sees every image (or for a test
    user, or on SQLite) the walk's answer is exact, and none left is noted as the pool being
    exhausted for the annotator, as ``_hand_out`` does.
    """
    target = dataset.annotators_per_image if counted else None
    walk = _Walk(dataset=dataset, annotator=annotator, progress=progress, target=target)
    if target is not None and connection.features.has_select_for_update_skip_locked:
        return walk.first(take=True)
    image = walk.first(take=False)
    if image is None:
        progress.exhausted_version = progress.pool_version_now
        progress.save(update_fields=["exhausted_version"])
        return None
    if counted:
        if not _in_savepoint(lambda: _take_slot_now(image.pk, dataset=dataset) or None):
            return None  # held by another transaction right now: not taken ahead
        image.reserved_count += 1
    return image


def _claim(image: Image, *, dataset: Dataset) -> Image | None:
    """Wait for the image's lock, then take one of its slots if it still has room."""
    locked = Image.objects.select_for_update(no_key=True).filter(pk=image.pk).values_list("pk").first()
    if locked is None or not _take_slot(image.pk, dataset=dataset):
        return None
    image.reserved_count += 1
    return image


def _take_skipping_held(image: Image, *, level: int, dataset: Dataset) -> bool:
    """Take one of the image's slots in one statement, unless another transaction holds it (SKIP LOCKED).

    The inner SELECT also re-checks, on the latest row, that the image is still at the level
    it was found at.
    """
    table = Image._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET reserved_count = reserved_count + 1 WHERE id = ("
            f"SELECT id FROM {table} WHERE id = %s AND reserved_count = %s FOR NO KEY UPDATE SKIP LOCKED"
            ") AND reserved_count < %s",
            [image.pk, level, dataset.annotators_per_image],
        )
        taken = cursor.rowcount == 1
    if taken:
        image.reserved_count = level + 1
    return taken


class _Walk:
    """The annotator's walk: by fill level (lowest first, with a target), then their own order from their cursor.

    File order: by position, from the last image handed out, wrapping around. Random order:
    the dataset's random keys cut the images into buckets of about ``BUCKET_SIZE``
    (``Dataset.bucket_shift``); the walk goes through the buckets from the annotator's
    cursor (at first their own start, ``Dataset.start_key_for``), wrapping around, and through
    each bucket in the annotator's own random order (``Dataset.annotator_key``). A dataset of
    up to ``BUCKET_SIZE`` images is one bucket: every annotator gets an independent order.
    """

    def __init__(self, *, dataset: Dataset, annotator: User, progress: AnnotatorProgress, target: int | None):
        self.dataset, self.annotator, self.target = dataset, annotator, target
        self.file_order = dataset.order == Dataset.Order.FILE
        resumed = progress.cursor_order == dataset.order and progress.cursor_key is not None
        if self.file_order:
            self.cursor = (progress.cursor_key, progress.cursor_image or 0) if resumed else (-1, -1)
        else:
            shift = dataset.bucket_shift()
            key = progress.cursor_key if resumed else dataset.start_key_for(annotator.pk)
            self.bucket_start = (key >> shift) << shift
            self.bucket_width = 1 << shift

    def first(self, *, take: bool) -> Image | None:
        """Return the first image of the walk; with ``take``, the first one whose slot could be taken, taken."""
        level = 0
        while True:
            if self.target is not None:
                level = _lowest_level(dataset=self.dataset, at_least=level, below=self.target)
                if level is None:
                    return None
            image = self._first_at(level if self.target is not None else None, take=take)
            if image is not None or self.target is None:
                return image
            level += 1

    def _try(self, candidates: list[Image], level: int | None, take: bool) -> Image | None:
        for candidate in candidates:
            if not take or _take_skipping_held(candidate, level=level, dataset=self.dataset):
                return candidate
        return None

    def _first_at(self, level: int | None, *, take: bool) -> Image | None:
        batch = 8 if take else 1  # a few candidates at once, in case the first are held by others
        if self.file_order:
            key, pk = self.cursor
            for lower, upper in (((key, pk), None), (None, (key, pk + 1))):  # after the cursor, then up to it
                while True:
                    found = self._images(level=level, lower=lower, upper=upper, limit=batch)
                    image = self._try(found, level, take)
                    if image is not None:
                        return image
                    if len(found) < batch:
                        break
                    lower = (found[-1].position, found[-1].pk)
            return None
        for lower, upper in ((self.bucket_start, None), (0, self.bucket_start)):
            bucket = lower
            while upper is None or bucket < upper:
                # The cursor's own bucket first, read whole; else the next bucket holding a candidate.
                candidates = self._bucket(level, bucket)
                if not candidates:
                    head = self._images(level=level, lower=(bucket, -1), upper=None if upper is None else (upper, -1))
                    if not head:
                        break
                    bucket = (head[0].shuffle_key // self.bucket_width) * self.bucket_width
                    candidates = self._bucket(level, bucket)
                image = self._try(candidates, level, take)
                if image is not None:
                    return image
                bucket += self.bucket_width  # all held by others: on to the next bucket
        return None

    def _bucket(self, level: int | None, bucket: int) -> list[Image]:
        """Return the bucket's candidates in the annotator's own order."""
        candidates = self._images(
            level=level, lower=(bucket, -1), upper=(bucket + self.bucket_width, -1), limit=BUCKET_FETCH
        )
        candidates.sort(key=lambda image: self.dataset.annotator_key(self.annotator.pk, image.sha256))
        return candidates

    def _images(self, *, level, lower=None, upper=None, limit=1) -> list[Image]:
        return _images(
            dataset=self.dataset,
            annotator=self.annotator,
            key="position" if self.file_order else "shuffle_key",
            level=level,
            lower=lower,
            upper=upper,
            limit=limit,
        )


def _lowest_level(*, dataset: Dataset, at_least: int, below: int) -> int | None:
    """Return the lowest fill level >= at_least that any image of the dataset is at, below the target."""
    with connection.cursor() as cursor:  # raw: the hot path, one index probe
        cursor.execute(
            f"SELECT reserved_count FROM {Image._meta.db_table} WHERE dataset_id = %s AND reserved_count >= %s "
            "AND reserved_count < %s ORDER BY reserved_count LIMIT 1",
            [dataset.pk, at_least, below],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def _images(
    *,
    dataset: Dataset,
    annotator: User,
    key: str,
    level: int | None,
    lower: tuple[int, int] | None = None,
    upper: tuple[int, int] | None = None,
    limit: int = 1,
) -> list[Image]:
    """Return images never handed to the annotator with lower < (key, id) < upper, in that order.

    Raw SQL because the ORM has no row-value comparison, which is what lets the index
    (dataset, reserved_count, key, id) start the scan right at the cursor.
    """
    image_table = Image._meta.db_table
    assignment_table = Assignment._meta.db_table
    conditions = ["i.dataset_id = %s"]
    params: list = [dataset.pk]
    if level is not None:
        conditions.append("i.reserved_count = %s")
        params.append(level)
    if lower is not None:
        conditions.append(f"(i.{key}, i.id) > (%s, %s)")
        params += list(lower)
    if upper is not None:
        conditions.append(f"(i.{key}, i.id) < (%s, %s)")
        params += list(upper)
    conditions.append(
        f"NOT EXISTS (SELECT 1 FROM {assignment_table} a WHERE a.image_id = i.id AND a.annotator_id = %s)"
    )
    params.append(annotator.pk)
    sql = f"SELECT i.* FROM {image_table} i WHERE {' AND '.join(conditions)} ORDER BY i.{key}, i.id LIMIT {limit:d}"
    return list(Image.objects.raw(sql, params))


# --- Leases expiring ---------------------------------------------------------------------


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
        _relaxed_commit()
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
        _pool_changed(dataset)
        return len(expired)


def _pool_changed(dataset: Dataset) -> None:
    """Note that images may have become available, so annotators found to be finished are searched again.

    Always the last statement of its transaction: the dataset row is referenced by foreign keys,
    so while it is locked other transactions' inserts queue behind it. Holding it last means
    whoever holds it waits for nothing, and no wait can close a cycle through it.
    """
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
    annotator's progress row they locked first (``progress_lock``, which read ``is_test`` with
    it). ``before`` is the annotation's ``status`` and ``active_ms`` before the change (None
    when it is new). A draft renews the lease; a submission ends it. Saving an image the
    annotator holds no slot of takes one, and is refused with ImageUnavailable when the image
    already has every annotator it needs.
    """
    now = now or timezone.now()
    image = annotation.image
    dataset = image.dataset
    annotator = annotation.annotator
    counted = not progress.is_test
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
    current = image_model.objects.select_for_update(no_key=True).filter(dataset_id=dataset_id).order_by("pk")
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
    datasets = list(
        Dataset.objects.filter(pk__in=Assignment.objects.filter(annotator=user).values("dataset")).order_by("pk")
    )
    for dataset in datasets:
        recount_dataset(dataset_id=dataset.pk)
    for dataset in datasets:  # the dataset rows last, as everywhere
        _pool_changed(dataset)
