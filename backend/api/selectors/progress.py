"""Reads of progress: per annotator (done, skipped, in progress, time spent, expected total) and per dataset."""

from typing import TYPE_CHECKING

from django.contrib.auth.models import User
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from ..models import AnnotatorProgress, Assignment, Dataset, Image
from ..permissions import can_read_all
from .queue import eligible_annotator_count, is_test_user, share_of

if TYPE_CHECKING:  # the write side's answer, read here: only its type is needed
    from ..services.queue import Handout


def expected_total(
    *,
    images: int,
    annotators_per_image: int | None,
    quota: int | None,
    eligible: int,
    handled: int,
    in_progress: int,
    finished: bool,
    is_test: bool,
) -> int:
    """Return how many images an annotator is expected to handle (submit or skip) in a dataset.

    Every image when every annotator sees every image (and for test users); with a target of
    k annotators per image, their fair share ceil(images * k / eligible annotators); never more
    than the quota; never less than what they have handled and hold; and exactly what they
    have handled once nothing is left for them.
    """
    if finished:
        return handled
    total = share_of(
        images=images, annotators_per_image=annotators_per_image, quota=quota, eligible=eligible, is_test=is_test
    )
    return max(total, handled + in_progress)


def progress_of(
    *,
    dataset: Dataset,
    submitted: int,
    skipped: int,
    in_progress: int,
    active_ms: int,
    exhausted_version: int | None,
    is_test: bool,
    eligible: int,
    pool_version: int | None = None,
) -> dict:
    """Return one annotator's progress on a dataset from their counts (no query).

    ``pool_version`` is the dataset's as it was read with the counts (the dataset's own by default).
    """
    handled = submitted + skipped
    quota_reached = dataset.images_per_annotator is not None and handled >= dataset.images_per_annotator
    pool_version = dataset.pool_version if pool_version is None else pool_version
    finished = in_progress == 0 and (quota_reached or exhausted_version == pool_version)
    total = expected_total(
        images=dataset.image_count,
        annotators_per_image=dataset.annotators_per_image,
        quota=dataset.images_per_annotator,
        eligible=eligible,
        handled=handled,
        in_progress=in_progress,
        finished=finished,
        is_test=is_test,
    )
    return {
        "done": submitted,
        "skipped": skipped,
        "in_progress": in_progress,
        "total": total,
        "active_ms": active_ms,
        "finished": finished,
    }


def _progress_of_row(
    row: AnnotatorProgress | None,
    *,
    dataset: Dataset,
    in_progress: int,
    is_test: bool,
    eligible: int,
    pool_version: int | None = None,
) -> dict:
    """Return ``progress_of`` the annotator's progress row (None: they have not started)."""
    return progress_of(
        dataset=dataset,
        submitted=row.submitted_count if row else 0,
        skipped=row.skipped_count if row else 0,
        in_progress=in_progress,
        active_ms=row.active_ms if row else 0,
        exhausted_version=row.exhausted_version if row else None,
        is_test=is_test,
        eligible=eligible,
        pool_version=pool_version,
    )


def handout_progress(*, handout: "Handout", dataset: Dataset) -> dict:
    """Return the annotator's progress as ``queue_next`` left it, counted in its transaction (no query).

    When nothing was handed out, nothing is left for them now: their total is what they have
    handled and hold, and they are finished once they hold nothing.
    """
    progress = _progress_of_row(
        handout.progress,
        dataset=dataset,
        in_progress=handout.in_progress,
        is_test=handout.is_test,
        eligible=handout.eligible,
        pool_version=handout.pool_version,
    )
    if handout.image is None:
        progress["total"] = progress["done"] + progress["skipped"] + progress["in_progress"]
        progress["finished"] = progress["in_progress"] == 0
    return progress


def leased_count(*, dataset: Dataset, annotator: User) -> int:
    """Return how many images of the dataset are leased to the annotator now."""
    return Assignment.objects.filter(dataset=dataset, annotator=annotator, status=Assignment.Status.LEASED).count()


def annotator_progress(*, dataset: Dataset, annotator: User, eligible: int | None = None) -> dict:
    """Return the annotator's progress on the dataset (a few indexed queries)."""
    dataset.refresh_from_db(fields=["pool_version", "image_count"])
    return _progress_of_row(
        AnnotatorProgress.objects.filter(dataset=dataset, annotator=annotator).first(),
        dataset=dataset,
        in_progress=leased_count(dataset=dataset, annotator=annotator),
        is_test=is_test_user(annotator),
        eligible=eligible_annotator_count(dataset) if eligible is None else eligible,
    )


def dataset_progress(*, dataset: Dataset, user) -> dict:
    """Return the dataset's progress: its images' state, and every annotator's (only the caller's for annotators).

    Researchers and admins see every annotator who has started, test users flagged; the
    dataset's figures leave test users out, as the targets do.
    """
    everyone = can_read_all(user)
    eligible = eligible_annotator_count(dataset)
    rows = AnnotatorProgress.objects.filter(dataset=dataset).select_related("annotator__profile")
    if not everyone:
        rows = rows.filter(annotator=user)
    leased = dict(
        Assignment.objects.filter(dataset=dataset, status=Assignment.Status.LEASED)
        .values_list("annotator_id")
        .annotate(n=Count("pk"))
    )
    annotators = []
    for row in rows.order_by("annotator__username"):
        entry = _progress_of_row(
            row,
            dataset=dataset,
            in_progress=leased.get(row.annotator_id, 0),
            is_test=is_test_user(row.annotator),
            eligible=eligible,
        )
        annotators.append(
            {
                "annotator": row.annotator_id,
                "username": row.annotator.username,
                "is_test": is_test_user(row.annotator),
                **entry,
                "last_active_at": row.last_active_at,
            }
        )
    if not everyone:
        if not annotators:
            annotators.append(
                {
                    "annotator": user.pk,
                    "username": user.username,
                    "is_test": is_test_user(user),
                    **annotator_progress(dataset=dataset, annotator=user, eligible=eligible),
                    "last_active_at": None,
                }
            )
        return {"dataset": None, "annotators": annotators}
    return {"dataset": dataset_summary(dataset=dataset, eligible=eligible), "annotators": annotators}


def dataset_summary(*, dataset: Dataset, eligible: int | None = None) -> dict:
    """Return the state of the dataset's images, test users left out: one pass over its images."""
    if eligible is None:
        eligible = eligible_annotator_count(dataset)
    target = dataset.annotators_per_image
    needed = target if target is not None else max(eligible, 1)
    figures = Image.objects.filter(dataset=dataset).aggregate(
        images=Count("pk"),
        complete=Count("pk", filter=Q(submitted_count__gte=needed)),
        started=Count("pk", filter=Q(reserved_count__gt=0)),
        submitted=Sum("submitted_count", default=0),
        in_progress=Sum("reserved_count", default=0),
    )
    testers = AnnotatorProgress.objects.filter(dataset=dataset, annotator__profile__is_test=True)
    counted = AnnotatorProgress.objects.filter(dataset=dataset).exclude(pk__in=testers.values("pk"))
    totals = counted.aggregate(
        skipped=Sum("skipped_count", default=0), active_ms=Sum("active_ms", default=0), annotators=Count("pk")
    )
    return {
        "images": figures["images"],
        "annotators_per_image": target,
        "eligible_annotators": eligible,
        "annotations_wanted": figures["images"] * target if target is not None else figures["images"] * eligible,
        "submitted": figures["submitted"],
        "in_progress": figures["in_progress"] - figures["submitted"],
        "skipped": totals["skipped"],
        "images_complete": figures["complete"],
        "images_started": figures["started"],
        "annotators_started": totals["annotators"],
        "active_ms": totals["active_ms"],
    }


def dataset_figures(*, datasets: QuerySet) -> QuerySet:
    """Return the datasets with their figures for a list, in the same query (one subquery each).

    ``complete``: images with every annotation their target asks for; ``submitted``: annotations
    submitted, test users left out (the images' counters); ``started``: annotators who have
    been handed an image, test users left out too.
    """
    images = Image.objects.filter(dataset=OuterRef("pk")).order_by().values("dataset")
    complete = images.filter(submitted_count__gte=OuterRef("annotators_per_image"))
    started = (
        AnnotatorProgress.objects.filter(dataset=OuterRef("pk"))
        .exclude(annotator__profile__is_test=True)
        .order_by()
        .values("dataset")
    )

    def count(rows, aggregate):
        return Coalesce(Subquery(rows.annotate(n=aggregate).values("n"), output_field=IntegerField()), 0)

    return datasets.annotate(
        complete=count(complete, Count("pk")),
        submitted=count(images, Sum("submitted_count")),
        started=count(started, Count("pk")),
    )
