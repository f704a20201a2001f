"""Reads of the assignment queue: whose work counts, whom a dataset's work is shared among, each one's
share, and what its counters should hold (``queue_counts``, the one place they are counted from the
assignments: ``queue_check`` compares, ``services.queue.recount_dataset`` writes).
"""

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db.models import Count, Q

from ..models import AnnotatorProgress, Assignment, Dataset, Image, Profile

ELIGIBLE_CACHE_SECONDS = 60

# Plain strings, which a data migration's historical models compare with too.
_LEASED = Assignment.Status.LEASED.value
_SUBMITTED = Assignment.Status.SUBMITTED.value
_SKIPPED = Assignment.Status.SKIPPED.value


def is_test_user(user) -> bool:
    """Return True if the user's work never counts towards targets."""
    profile = getattr(user, "profile", None)
    return bool(profile and profile.is_test)


def eligible_annotator_count(dataset: Dataset | None) -> int:
    """Return how many non-test, active annotators may work on the dataset: whom its work is shared among.

    Admins may annotate too, but they are test users (their work never counts), so they are not among them.

    ``None`` stands for any dataset open to every annotator. Only the expected totals shown to
    annotators depend on it, so each process counts it at most once a minute per dataset (a
    new account shows in others' totals within a minute). Kept in the process, not the shared
    cache: ``next`` needs it on every call, and the shared cache (the database's, by default)
    cost a round trip each time, more than counting once a minute in every worker.
    """
    if dataset is None:
        dataset = Dataset(pk=0, access=Dataset.Access.ALL)
    key = (dataset.pk, dataset.access)
    now = time.monotonic()
    counted = _eligible_counts.get(key)
    if counted is not None and counted[1] > now:
        return counted[0]
    if dataset.access == Dataset.Access.CHOSEN:
        users = dataset.annotators.filter(is_active=True)
    else:
        users = User.objects.filter(groups__name="annotator", is_active=True, is_staff=False)
    count = users.exclude(profile__is_test=True).count()  # one row per user: group names are unique
    _eligible_counts[key] = (count, now + ELIGIBLE_CACHE_SECONDS)
    return count


_eligible_counts: dict[tuple[int, str], tuple[int, float]] = {}  # (dataset, access) -> (count, until when)


def forget_eligible_counts() -> None:
    """Count the eligible annotators again on the next call (tests start each from a fresh database)."""
    _eligible_counts.clear()


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


# --- What the counters should hold -----------------------------------------------------------


@dataclass(frozen=True)
class QueueCounts:
    """A dataset's counters as its assignments give them (images and annotators absent count zero)."""

    reserved: dict[int, int]  # image id -> non-test annotators leasing it or having submitted it
    submitted: dict[int, int]  # image id -> non-test annotators having submitted it
    handled: dict[int, tuple[int, int]]  # annotator id -> (submitted, skipped), test users included

    def image(self, image_id: int) -> tuple[int, int]:
        """Return the image's (reserved_count, submitted_count)."""
        return self.reserved.get(image_id, 0), self.submitted.get(image_id, 0)

    def annotator(self, annotator_id: int) -> tuple[int, int]:
        """Return the annotator's (submitted_count, skipped_count) in their progress row."""
        return self.handled.get(annotator_id, (0, 0))


def queue_counts(*, dataset_id: int, models: Mapping[str, type] | None = None) -> QueueCounts:
    """Count what the dataset's counters should hold from its assignments (three aggregate queries).

    ``models`` lets a data migration pass its historical ``Assignment`` and ``Profile`` by name.
    """
    model = (models or {}).get
    assignment_model, profile_model = model("Assignment", Assignment), model("Profile", Profile)
    testers = profile_model.objects.filter(is_test=True).values("user_id")
    assignments = assignment_model.objects.filter(dataset_id=dataset_id)
    counted = assignments.exclude(annotator_id__in=testers)
    reserved = counted.filter(status__in=[_LEASED, _SUBMITTED]).values_list("image_id").annotate(n=Count("pk"))
    submitted = counted.filter(status=_SUBMITTED).values_list("image_id").annotate(n=Count("pk"))
    handled = assignments.values_list("annotator_id").annotate(
        submitted=Count("pk", filter=Q(status=_SUBMITTED)), skipped=Count("pk", filter=Q(status=_SKIPPED))
    )
    return QueueCounts(
        reserved=dict(reserved),
        submitted=dict(submitted),
        handled={annotator_id: (s, k) for annotator_id, s, k in handled},
    )


def queue_check(*, dataset: Dataset) -> list[str]:
    """Return every counter of the dataset that disagrees with its assignments (empty when consistent)."""
    problems = []
    counts = queue_counts(dataset_id=dataset.pk)
    target = dataset.annotators_per_image
    for pk, path, r, s in Image.objects.filter(dataset=dataset).values_list(
        "pk", "path", "reserved_count", "submitted_count"
    ):
        expected = counts.image(pk)
        if (r, s) != expected:
            problems.append(f"{path}: counts {r}/{s}, assignments {expected[0]}/{expected[1]}")
        if target is not None and r > target:
            problems.append(f"{path}: {r} annotators, past its target of {target}")
    for progress in AnnotatorProgress.objects.filter(dataset=dataset):
        expected = counts.annotator(progress.annotator_id)
        if (progress.submitted_count, progress.skipped_count) != expected:
            problems.append(
                f"annotator {progress.annotator_id}: progress {progress.submitted_count}/{progress.skipped_count}, "
                f"assignments {expected[0]}/{expected[1]}"
            )
    if Dataset.objects.get(pk=dataset.pk).image_count != Image.objects.filter(dataset=dataset).count():
        problems.append("image_count differs from the number of images")
    return problems
