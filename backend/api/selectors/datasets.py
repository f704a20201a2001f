"""Reads of datasets and images: what a user may see, and their progress."""

from django.db import connection
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from ..models import AnnotatorProgress, Assignment, Dataset, Image
from ..permissions import can_read_all
from ..rows import row_read


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
    pk = _row_id(pk)
    if pk is None or not user.is_authenticated:
        return None
    condition, params = _visible(user)
    return row_read(Dataset, f"SELECT d.* FROM {Dataset._meta.db_table} d WHERE d.id = %s{condition}", [pk, *params])


def _row_id(pk) -> int | None:
    """Return ``pk`` as a row id, or None if it cannot be one."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        return None
    return pk if 0 < pk < 2**63 else None


def _visible(user) -> tuple[str, list]:
    """Return the condition on the dataset ``d`` that ``visible_datasets`` decides, as SQL (`` AND ...``), and its
    parameters."""
    if can_read_all(user):
        return "", []
    chosen = Dataset.annotators.through._meta.db_table
    condition = (
        f" AND (d.access = %s OR EXISTS (SELECT 1 FROM {chosen} c WHERE c.dataset_id = d.id AND c.user_id = %s))"
    )
    return condition, [Dataset.Access.ALL.value, user.pk]


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

    One raw query: every save and every opening of an image reads its image, and compiling
    ``image_list``'s nested subquery through the ORM cost several times running it (as for
    ``visible_dataset``). A ``pk`` that is not a row id is None.
    """
    pk = _row_id(pk)
    if pk is None or not user.is_authenticated:
        return None
    condition, params = _visible(user)
    key = (condition, connection.vendor)
    sql = _IMAGE_SQL.get(key)
    if sql is None:
        quote = connection.ops.quote_name
        dataset_columns = ", ".join(f"d.{quote(f.column)} AS {quote('dataset__' + f.column)}" for f in _DATASET_FIELDS)
        sql = _IMAGE_SQL[key] = (
            f"SELECT i.*, {dataset_columns} FROM {Image._meta.db_table} i "
            f"JOIN {Dataset._meta.db_table} d ON d.id = i.dataset_id WHERE i.id = %s{condition}"
        )
    return row_read(Image, sql, [pk, *params], related=_IMAGE_RELATED)


_DATASET_FIELDS = Dataset._meta.concrete_fields
_IMAGE_RELATED = (("dataset", Dataset),)
_IMAGE_SQL: dict[tuple[str, str], str] = {}  # (visibility condition, vendor) -> the statement, built once
