"""Reads of datasets and images: what a user may see, and their progress."""

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from ..models import AnnotatorProgress, Assignment, Dataset, Image
from ..permissions import can_read_all


def visible_datasets(*, user) -> QuerySet[Dataset]:
    """Return the datasets the user may see: every one for researchers and admins; for annotators, those open
    to every annotator and those they were chosen for. The one place that decides it (with ``permissions``).
    """
    if not user.is_authenticated:  # e.g. the OpenAPI generator's stand-in request
        return Dataset.objects.none()
    if can_read_all(user):
        return Dataset.objects.all()
    chosen = Dataset.annotators.through.objects.filter(user_id=user.pk).values("dataset_id")
    return Dataset.objects.filter(Q(access=Dataset.Access.ALL) | Q(pk__in=chosen))


def visible_dataset(*, user, pk) -> Dataset | None:
    """Return the dataset ``pk`` if the user may see it (as ``visible_datasets`` decides), else None.

    One raw query: ``next`` reads its dataset on every call, and compiling ``visible_datasets``'
    query through the ORM cost several times running it. A ``pk`` that is not a row id is None.
    """
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        return None
    if not user.is_authenticated or not 0 < pk < 2**63:
        return None
    sql = f"SELECT d.* FROM {Dataset._meta.db_table} d WHERE d.id = %s"
    params = [pk]
    if not can_read_all(user):
        chosen = Dataset.annotators.through._meta.db_table
        sql += f" AND (d.access = %s OR EXISTS (SELECT 1 FROM {chosen} c WHERE c.dataset_id = d.id AND c.user_id = %s))"
        params += [Dataset.Access.ALL.value, user.pk]
    return next(iter(Dataset.objects.raw(sql, params)), None)


def dataset_list(*, user) -> QuerySet[Dataset]:
    """Return the datasets the user may see, each with the user's own counts for their progress.

    ``my_submitted``, ``my_skipped``, ``my_in_progress``, ``my_exhausted`` (the pool version at
    which nothing was left for them) and ``chosen_eligible`` (for datasets open to chosen
    annotators: how many of them count) — one query for the whole list.
    """
    mine = AnnotatorProgress.objects.filter(dataset=OuterRef("pk"), annotator=user.pk)
    leased = (
        Assignment.objects.filter(dataset=OuterRef("pk"), annotator=user.pk, status=Assignment.Status.LEASED)
        .order_by()
        .values("dataset")
        .annotate(n=Count("pk"))
        .values("n")
    )
    chosen = (
        Dataset.annotators.through.objects.filter(dataset=OuterRef("pk"), user__is_active=True)
        .exclude(user__profile__is_test=True)
        .order_by()
        .values("dataset")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return visible_datasets(user=user).annotate(
        my_submitted=Coalesce(Subquery(mine.values("submitted_count")), 0),
        my_skipped=Coalesce(Subquery(mine.values("skipped_count")), 0),
        my_active_ms=Coalesce(Subquery(mine.values("active_ms")), 0),
        my_exhausted=Subquery(mine.values("exhausted_version")),
        my_in_progress=Coalesce(Subquery(leased, output_field=IntegerField()), 0),
        chosen_eligible=Coalesce(Subquery(chosen, output_field=IntegerField()), 0),
    )


def image_list(*, user) -> QuerySet[Image]:
    """Return the images of the datasets the user may see."""
    return Image.objects.filter(dataset__in=visible_datasets(user=user).values("pk")).select_related("dataset")


def visible_image(*, user, pk) -> Image | None:
    """Return the image ``pk`` with its dataset if the user may see it (as ``image_list`` decides), else None.

    Two raw queries: every save and every opening of an image reads its image, and compiling
    ``image_list``'s nested subquery through the ORM cost several times running it (as for
    ``visible_dataset``, which decides here). A ``pk`` that is not a row id is None.
    """
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        return None
    if not user.is_authenticated or not 0 < pk < 2**63:
        return None
    image = next(iter(Image.objects.raw(f"SELECT * FROM {Image._meta.db_table} WHERE id = %s", [pk])), None)
    dataset = visible_dataset(user=user, pk=image.dataset_id) if image is not None else None
    if dataset is None:
        return None
    image.dataset = dataset
    return image
