"""The picker: which new image an annotator gets, found and its slot taken in the same transaction.

An engine of its own: ``_Walk`` goes through the images never handed to the annotator, by fill
level (lowest first, when the dataset has a target), then in the annotator's own order from
their cursor; the ``take_*`` functions take the first image whose slot is free, skipping or
waiting for images other transactions hold (see the package's docstring on locks). A different
way of choosing images is a different walk: ``_ListWalk`` goes through a list the caller gives (a
study's phase: its subset, balanced by condition, see ``selectors.study_phases``).
"""

from typing import NamedTuple

from django.contrib.auth.models import User
from django.db import connection

from ...models import AnnotatorProgress, Assignment, Dataset, Image
from .leases import in_savepoint, take_slot, take_slot_now

MAX_WAITS = 20  # images waited for, one at a time, after a SKIP LOCKED pass found none free
BUCKET_FETCH = 500  # most images read from one bucket of the random order (about BUCKET_SIZE are expected)


class Contended(Exception):
    """Every image left was held by other transactions, and waiting for them did not free one in time."""


class RetryWaiting(Exception):
    """The pass that skips held images found none free: try again, waiting for them."""


def take_new_image(
    *,
    dataset: Dataset,
    annotator: User,
    progress: AnnotatorProgress,
    counted: bool,
    wait: bool,
    among=None,
    lowest_level: int | None = None,
) -> Image | None:
    """Find and reserve the next image the annotator has never been handed; None when there is none.

    With a target, on PostgreSQL: first (``wait`` False) a pass that takes the first candidate
    no other transaction holds (SKIP LOCKED), so annotators working at once fan out over
    different images; it raises RetryWaiting if every candidate was held, since a held image
    may still have room once its holder is done. Then (``wait`` True, in a new transaction):
    one image at a time, find the first candidate ignoring locks and wait for that image alone;
    none left ignoring locks proves that nothing is left. ``among``: only these image ids, in this order.

    ``lowest_level``: the lowest fill level below the target, when the caller has just read it
    (``handout``'s lock query reads it, saving the walk's first query); it only says where the
    walk starts, which goes on to higher levels as it always does.
    """
    target = dataset.annotators_per_image if counted else None
    walk = _walk(
        dataset=dataset, annotator=annotator, progress=progress, target=target, among=among, lowest_level=lowest_level
    )
    if target is None or not connection.features.has_select_for_update_skip_locked:
        # No slot to compete for (every annotator sees every image, or a test user), or SQLite,
        # where this transaction already holds the database's only write lock.
        if target is None and counted and connection.vendor == "postgresql":
            # The slot taken answers the image's row: the walk reads candidates only (as with a target).
            candidate = walk.first(take=False, light=True)
            return None if candidate is None else _take_counting(candidate)
        image = walk.first(take=False)
        if image is not None and counted:
            take_slot(image.pk, dataset=dataset)
            image.reserved_count += 1
        return image
    if not wait:
        image = walk.first(take=True)
        if image is None:
            raise RetryWaiting
        return image
    for _ in range(MAX_WAITS):
        candidate = walk.first(take=False)
        if candidate is None:
            return None
        image = in_savepoint(lambda: _claim(candidate, dataset=dataset))  # noqa: B023 - called at once
        if image is not None:
            return image
    raise Contended


def take_new_image_now(
    *, dataset: Dataset, annotator: User, progress: AnnotatorProgress, counted: bool, among=None
) -> Image | None:
    """Find and reserve the next new image as ``take_new_image`` does, but never wait for a lock held by another.

    None when nothing is free right now. When every annotator sees every image (or for a test
    user, or on SQLite) the walk's answer is exact, and none left is noted as the pool being
    exhausted for the annotator, as the hand-out does (``handout._current``), unless ``among`` limited the walk.
    """
    target = dataset.annotators_per_image if counted else None
    walk = _walk(dataset=dataset, annotator=annotator, progress=progress, target=target, among=among)
    if target is not None and connection.features.has_select_for_update_skip_locked:
        return walk.first(take=True)
    image = walk.first(take=False)
    if image is None and among is not None:
        return None  # nothing left among these images: the dataset may still have some for other walks
    if image is None:
        progress.exhausted_version = progress.pool_version_now
        progress.save(update_fields=["exhausted_version"])
        return None
    if counted:
        if not in_savepoint(lambda: take_slot_now(image.pk, dataset=dataset) or None):
            return None  # held by another transaction right now: not taken ahead
        image.reserved_count += 1
    return image


def _claim(image: Image, *, dataset: Dataset) -> Image | None:
    """Wait for the image's lock, then take one of its slots if it still has room."""
    locked = Image.objects.select_for_update(no_key=True).filter(pk=image.pk).values_list("pk").first()
    if locked is None or not take_slot(image.pk, dataset=dataset):
        return None
    image.reserved_count += 1
    return image


def _take_skipping_held(candidate: "_Candidate", *, level: int, dataset: Dataset) -> Image | None:
    """Take one of the image's slots in one statement, unless another transaction holds it (SKIP LOCKED).

    The inner SELECT also re-checks, on the latest row, that the image is still at the level
    it was found at. Return the image (its whole row, as the slot left it), None if not taken.
    """
    table = Image._meta.db_table
    return next(
        iter(
            Image.objects.raw(
                f"UPDATE {table} SET reserved_count = reserved_count + 1 WHERE id = ("
                f"SELECT id FROM {table} WHERE id = %s AND reserved_count = %s FOR NO KEY UPDATE SKIP LOCKED"
                f") AND reserved_count < %s RETURNING {_IMAGE_COLUMNS}",
                [candidate.pk, level, dataset.annotators_per_image],
            )
        ),
        None,
    )


def _take_counting(candidate: "_Candidate") -> Image:
    """Count the annotator in the image's reserved_count (``take_slot`` without a target), answering its row."""
    table = Image._meta.db_table
    sql = f"UPDATE {table} SET reserved_count = reserved_count + 1 WHERE id = %s RETURNING {_IMAGE_COLUMNS}"
    return next(iter(Image.objects.raw(sql, [candidate.pk])))


_IMAGE_COLUMNS = ", ".join(field.column for field in Image._meta.concrete_fields)


class _Candidate(NamedTuple):
    """What the walk needs of an image it may take: its id, its places in both orders and its SHA-256."""

    pk: int
    position: int
    shuffle_key: int
    sha256: str


def _walk(
    *, dataset: Dataset, annotator: User, progress: AnnotatorProgress, target: int | None, among, lowest_level=None
):
    """Return the walk to take new images from: the caller's list (``among``), or the annotator's own."""
    if among is None:
        return _Walk(dataset=dataset, annotator=annotator, progress=progress, target=target, lowest_level=lowest_level)
    return _ListWalk(dataset=dataset, annotator=annotator, target=target, among=among)


class _ListWalk:
    """A walk through the image ids the caller lists, in that order: those never handed to the annotator, with room.

    Read in batches (the list may hold a whole dataset), each batch in one query.
    """

    BATCH = 200

    def __init__(self, *, dataset: Dataset, annotator: User, target: int | None, among):
        self.dataset, self.annotator, self.target, self.among = dataset, annotator, target, list(among)

    def first(self, *, take: bool, light: bool | None = None) -> Image | None:
        """Return the first image of the list with room; with ``take``, the first whose slot could be taken, taken.

        Whole images always (``light`` is _Walk's; an image serves wherever a ``_Candidate`` does).
        """
        for start in range(0, len(self.among), self.BATCH):
            batch = self.among[start : start + self.BATCH]
            handed = Assignment.objects.filter(annotator=self.annotator, image_id__in=batch).values("image_id")
            rows = Image.objects.filter(dataset=self.dataset, pk__in=batch).exclude(pk__in=handed)
            if self.target is not None:
                rows = rows.filter(reserved_count__lt=self.target)
            found = {image.pk: image for image in rows}
            for pk in batch:
                image = found.get(pk)
                if image is not None and (not take or self._take(image)):
                    return image
        return None

    def _take(self, image: Image) -> bool:
        if not in_savepoint(lambda: take_slot_now(image.pk, dataset=self.dataset) or None):
            return False  # full since it was read, or held by another transaction right now
        image.reserved_count += 1
        return True


class _Walk:
    """The annotator's walk: by fill level (lowest first, with a target), then their own order from their cursor.

    File order: by position, from the last image handed out, wrapping around. Random order:
    the dataset's random keys cut the images into buckets of about ``BUCKET_SIZE``
    (``Dataset.bucket_shift``); the walk goes through the buckets from the annotator's
    cursor (at first their own start, ``Dataset.start_key_for``), wrapping around, and through
    each bucket in the annotator's own random order (``Dataset.annotator_key``). A dataset of
    up to ``BUCKET_SIZE`` images is one bucket: every annotator gets an independent order.
    """

    def __init__(
        self,
        *,
        dataset: Dataset,
        annotator: User,
        progress: AnnotatorProgress,
        target: int | None,
        lowest_level: int | None = None,
    ):
        self.dataset, self.annotator, self.target = dataset, annotator, target
        self.lowest_level = lowest_level  # known for the first search only (see take_new_image)
        self.file_order = dataset.order == Dataset.Order.FILE
        resumed = progress.cursor_order == dataset.order and progress.cursor_key is not None
        if self.file_order:
            self.cursor = (progress.cursor_key, progress.cursor_image or 0) if resumed else (-1, -1)
        else:
            shift = dataset.bucket_shift()
            key = progress.cursor_key if resumed else dataset.start_key_for(annotator.pk)
            self.bucket_start = (key >> shift) << shift
            self.bucket_width = 1 << shift

    def first(self, *, take: bool, light: bool | None = None) -> Image | None:
        """Return the first image of the walk; with ``take``, the first one whose slot could be taken, taken.

        ``light`` (by default with ``take``): read candidates as ``_Candidate`` rows; without
        ``take``, one of those is what is returned.
        """
        light = take if light is None else light
        level = 0
        while True:
            if self.target is not None:
                if self.lowest_level is not None and level == 0:
                    level = self.lowest_level
                else:
                    level = _lowest_level(dataset=self.dataset, at_least=level, below=self.target)
                self.lowest_level = None
                if level is None:
                    return None
            image = self._first_at(level if self.target is not None else None, take=take, light=light)
            if image is not None or self.target is None:
                return image
            level += 1

    def _try(self, candidates: list, level: int | None, take: bool) -> Image | None:
        for candidate in candidates:
            if not take:
                return candidate
            image = _take_skipping_held(candidate, level=level, dataset=self.dataset)
            if image is not None:
                return image
        return None

    def _first_at(self, level: int | None, *, take: bool, light: bool) -> Image | None:
        batch = 8 if take else 1  # a few candidates at once, in case the first are held by others
        if self.file_order:
            key, pk = self.cursor
            for lower, upper in (((key, pk), None), (None, (key, pk + 1))):  # after the cursor, then up to it
                while True:
                    found = self._images(level=level, lower=lower, upper=upper, limit=batch, light=light)
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
                candidates = self._bucket(level, bucket, light)
                if not candidates:
                    head = self._images(
                        level=level, lower=(bucket, -1), upper=None if upper is None else (upper, -1), light=True
                    )
                    if not head:
                        break
                    bucket = (head[0].shuffle_key // self.bucket_width) * self.bucket_width
                    candidates = self._bucket(level, bucket, light)
                image = self._try(candidates, level, take)
                if image is not None:
                    return image
                bucket += self.bucket_width  # all held by others: on to the next bucket
        return None

    def _bucket(self, level: int | None, bucket: int, light: bool) -> list:
        """Return the bucket's candidates in the annotator's own order (``_Candidate`` rows when ``light``)."""
        candidates = self._images(
            level=level, lower=(bucket, -1), upper=(bucket + self.bucket_width, -1), limit=BUCKET_FETCH, light=light
        )
        candidates.sort(key=lambda image: self.dataset.annotator_key(self.annotator.pk, image.sha256))
        return candidates

    def _images(self, *, level, lower=None, upper=None, limit=1, light=False) -> list:
        return _images(
            dataset=self.dataset,
            annotator=self.annotator,
            key="position" if self.file_order else "shuffle_key",
            level=level,
            lower=lower,
            upper=upper,
            limit=limit,
            light=light,
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
    light: bool = False,
) -> list:
    """Return images never handed to the annotator with lower < (key, id) < upper, in that order.

    Raw SQL because the ORM has no row-value comparison, which is what lets the index
    (dataset, reserved_count, key, id) start the scan right at the cursor. ``light``: as
    ``_Candidate`` rows, not whole images; a bucket holds a few dozen candidates and making
    each a model (its dates and JSON decoded) cost more than the query, when the slot taken
    answers the one image handed out (``_take_skipping_held``).
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
    columns = "i.id, i.position, i.shuffle_key, i.sha256" if light else "i.*"
    sql = (
        f"SELECT {columns} FROM {image_table} i WHERE {' AND '.join(conditions)} ORDER BY i.{key}, i.id LIMIT {limit:d}"
    )
    if not light:
        return list(Image.objects.raw(sql, params))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [_Candidate(*row) for row in cursor.fetchall()]
