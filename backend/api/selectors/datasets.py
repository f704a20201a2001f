"""Reads of datasets and images: what a user may see, their progress, their next image."""

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from ..models import Annotation, Dataset, Image


def dataset_list(*, user) -> QuerySet[Dataset]:
    """Return the datasets the user may see, each with ``image_count`` and the user's ``done_count``."""
    if not user.is_authenticated:  # e.g. the OpenAPI generator's stand-in request
        return Dataset.objects.none()
    images = Image.objects.filter(dataset=OuterRef("pk")).order_by().values("dataset")
    done = (
        Annotation.objects.filter(image__dataset=OuterRef("pk"), annotator=user, status=Annotation.Status.SUBMITTED)
        .order_by()
        .values("image__dataset")
    )
    return Dataset.objects.annotate(
        image_count=Coalesce(Subquery(images.annotate(n=Count("pk")).values("n"), output_field=IntegerField()), 0),
        done_count=Coalesce(Subquery(done.annotate(n=Count("pk")).values("n"), output_field=IntegerField()), 0),
    )


def dataset_progress(*, dataset: Dataset, user) -> dict:
    """Return the user's progress on the dataset: images submitted and images in all."""
    total = Image.objects.filter(dataset=dataset).count()
    done = Annotation.objects.filter(image__dataset=dataset, annotator=user, status=Annotation.Status.SUBMITTED).count()
    return {"done": done, "total": total}


def next_image_for(*, dataset: Dataset, user) -> Image | None:
    """Return the image the user should work on next: their latest unfinished draft, else the first not started."""
    mine = Annotation.objects.filter(image__dataset=dataset, annotator=user)
    draft = mine.filter(status=Annotation.Status.DRAFT).select_related("image").order_by("-updated_at").first()
    if draft is not None:
        return draft.image
    return Image.objects.filter(dataset=dataset).exclude(pk__in=mine.values("image")).order_by("position", "pk").first()


def image_list(*, user) -> QuerySet[Image]:
    """Return the images of the datasets the user may see."""
    return Image.objects.filter(dataset__in=dataset_list(user=user).values("pk")).select_related("dataset")
