"""Handing out images: what ``next`` gives the annotator now, and the images leased ahead with it.

What they hold comes first (leases, then expired leases with room left); a new image comes from
the picker (``picker.py``), whose slot it has already taken when it returns.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone

from ...models import AnnotatorProgress, Assignment, Dataset, Image, Profile
from ...selectors.queue import annotator_share, eligible_annotator_count
from .leases import in_savepoint, lease, locked_progress, release_expired_leases, take_slot, take_slot_now
from .picker import Contended, RetryWaiting, take_new_image, take_new_image_now

HELD_LIMIT = 50  # an annotator's leased and released assignments read at once
MAX_AHEAD = 20  # most images leased ahead in one call


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


class _ReleaseFirst(Exception):
    """Expired leases must be released (in a transaction of their own) before handing out."""


def queue_next(
    *, dataset: Dataset, annotator: User, now: datetime | None = None, ahead: int = 0, among=None
) -> Handout:
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

    ``among`` (a list of image ids): new images only from these, in this order (a study's phase,
    ``selectors.study_phases``); nothing left among them is then not noted as the dataset exhausted.

    Expired leases are released first, in a transaction of their own (the hand-out's first
    query tells whether there are any), so the hand-out never holds more than one image lock
    while it waits.
    """
    now = now or timezone.now()
    ahead = max(0, min(int(ahead), MAX_AHEAD))
    for attempt in range(3):
        try:
            return _hand_out(
                dataset=dataset, annotator=annotator, now=now, wait=False, release=attempt < 2, ahead=ahead, among=among
            )
        except _ReleaseFirst:
            release_expired_leases(dataset=dataset, now=now)
        except RetryWaiting:
            # Every image with room was held by others: start again in a new transaction (which
            # drops any lock the first one held) that waits for them, one at a time.
            return _hand_out(
                dataset=dataset, annotator=annotator, now=now, wait=True, release=False, ahead=ahead, among=among
            )
    raise AssertionError("unreachable: the last attempt does not release")  # pragma: no cover


def _progress_lock_for_hand_out(*, dataset: Dataset, annotator: User, now: datetime) -> AnnotatorProgress:
    """``progress_lock`` that also answers, in the same query, what a hand-out needs first.

    ``pool_version_now`` (the dataset's, read with the lock), ``is_test``, ``leases_expired``
    (are there expired leases to release first), ``holds`` (has the annotator leased or
    released images to come back to); on PostgreSQL it also relaxes the commit
    (``set_config`` is ``SET LOCAL``, see ``leases.relaxed_commit``). Raw SQL: each query is a
    round trip, and building this one through the ORM cost more than running it.
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
    return locked_progress(sql, params, dataset=dataset, annotator=annotator)


@transaction.atomic
def _hand_out(
    *, dataset: Dataset, annotator: User, now: datetime, wait: bool, release: bool, ahead: int, among=None
) -> Handout:
    progress = _progress_lock_for_hand_out(dataset=dataset, annotator=annotator, now=now)
    if progress.leases_expired and release:
        raise _ReleaseFirst  # rolls this transaction back; queue_next releases them and comes back
    eligible = eligible_annotator_count(dataset) if dataset.annotators_per_image is not None else 0
    # Read (with the progress row) before searching: anything freed after this read bumps the
    # version, so a search that finds nothing is only trusted until then.
    pool_version = progress.pool_version_now
    is_test = bool(progress.is_test)

    leased = _leased(dataset=dataset, annotator=annotator) if progress.holds else []
    resumed = bool(leased)
    if leased:
        _renew(leased[: 1 + ahead], dataset=dataset, now=now)  # else renewed moments ago: a reload writes nothing
    else:
        current, resumed = _current(
            dataset=dataset, annotator=annotator, progress=progress, now=now, wait=wait, among=among
        )
        if current is None:
            return Handout(None, None, progress, pool_version, is_test, 0, eligible)
        leased = [current]

    further = [a.image for a in leased[1 : 1 + ahead]]
    held = len(leased)
    room = min(
        ahead - len(further),
        annotator_share(dataset=dataset, eligible=eligible, is_test=is_test)
        - (progress.submitted_count + progress.skipped_count + held),
    )
    if room > 0:
        taken = _take_ahead(dataset=dataset, annotator=annotator, progress=progress, now=now, room=room, among=among)
        further += taken
        held += len(taken)
    current = leased[0]
    return Handout(current.image, current, progress, pool_version, is_test, held, eligible, resumed, tuple(further))


def _current(
    *, dataset: Dataset, annotator: User, progress: AnnotatorProgress, now: datetime, wait: bool, among=None
) -> tuple[Assignment | None, bool]:
    """Lease what the annotator works on now when they hold no lease, and say whether they had it before.

    An image whose lease expired and still has room, else a new one from the picker; None when
    nothing is left for them (noted as ``exhausted_version`` when that is proven).
    """
    counted = not progress.is_test
    if progress.holds:
        released = _released(dataset=dataset, annotator=annotator, counted=counted, limit=5)
        returning = _reclaim_released(released, dataset=dataset, counted=counted, now=now, wait=True, limit=1)
        if returning:
            return returning[0], True
    if dataset.images_per_annotator is not None and (
        progress.submitted_count + progress.skipped_count >= dataset.images_per_annotator
    ):
        return None, False
    if among is None and progress.exhausted_version == progress.pool_version_now:
        return None, False  # searched since anything last came free: still nothing
    try:
        image = take_new_image(
            dataset=dataset, annotator=annotator, progress=progress, counted=counted, wait=wait, among=among
        )
    except Contended:
        return None, False  # every image left is being taken right now: nothing proven, nothing noted
    if image is None and among is not None:
        return None, False  # none left among those asked for: the rest of the dataset may have some
    if image is None:
        progress.exhausted_version = progress.pool_version_now
        progress.save(update_fields=["exhausted_version"])
        return None, False
    current = _new_lease(image, dataset=dataset, annotator=annotator, progress=progress, now=now)
    progress.last_active_at = now
    progress.save(update_fields=["cursor_order", "cursor_key", "cursor_image", "last_active_at"])
    return current, False


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
    lease(assignment, dataset=dataset, now=now)
    progress.cursor_order = dataset.order
    progress.cursor_key = image.position if dataset.order == Dataset.Order.FILE else image.shuffle_key
    progress.cursor_image = image.pk
    return assignment


def _take_ahead(
    *, dataset: Dataset, annotator: User, progress: AnnotatorProgress, now: datetime, room: int, among=None
) -> list[Image]:
    """Lease up to ``room`` further images without waiting for any: released ones with room, then new ones.

    This transaction already holds the slot of the current image, so it must never wait for
    another image's lock (a transaction releasing leases could hold that one and wait for
    ours): every slot here is taken with SKIP LOCKED, and an image someone else holds right
    now is simply not taken ahead.
    """
    counted = not progress.is_test
    released = []
    if progress.holds:
        released = _released(dataset=dataset, annotator=annotator, counted=counted, limit=room + 5)
    taken = [
        a.image for a in _reclaim_released(released, dataset=dataset, counted=counted, now=now, wait=False, limit=room)
    ]
    if len(taken) >= room or (among is None and progress.exhausted_version == progress.pool_version_now):
        return taken
    moved = False
    while len(taken) < room:
        image = take_new_image_now(
            dataset=dataset, annotator=annotator, progress=progress, counted=counted, among=among
        )
        if image is None:
            break
        _new_lease(image, dataset=dataset, annotator=annotator, progress=progress, now=now)
        taken.append(image)
        moved = True
    if moved:
        progress.save(update_fields=["cursor_order", "cursor_key", "cursor_image"])
    return taken


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
            take = take_slot if wait else take_slot_now
            if not in_savepoint(lambda: take(assignment.image_id, dataset=dataset) or None):  # noqa: B023
                continue  # filled up since we read it (or, not waiting, held by someone right now)
        assignment.status = Assignment.Status.LEASED
        lease(assignment, dataset=dataset, now=now)
        returning.append(assignment)
    return returning
