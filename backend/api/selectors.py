"""Every read EyeTagger makes. Views call these; querysets are shaped here so no view causes N+1 queries."""

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from .models import Annotation, AnnotationRevision, Dataset, Image
from .permissions import can_read_all


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
    done = Annotation.objects.filter(
        image__dataset=dataset, annotator=user, status=Annotation.Status.SUBMITTED
    ).count()
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


def annotation_list(*, user) -> QuerySet[Annotation]:
    """Return the annotations the user may see: everyone's for researchers and admins, else their own."""
    if not user.is_authenticated:
        return Annotation.objects.none()
    annotations = Annotation.objects.select_related("image", "annotator__profile").filter(
        image__dataset__in=dataset_list(user=user).values("pk")
    )
    if not can_read_all(user):
        annotations = annotations.filter(annotator=user)
    return annotations


def annotation_for(*, image: Image, user) -> Annotation | None:
    """Return the user's own annotation of the image, if any."""
    return Annotation.objects.filter(image=image, annotator=user).first()


def revision_list(*, annotation: Annotation) -> QuerySet[AnnotationRevision]:
    return annotation.revisions.select_related("replaced_by").order_by("-version")
