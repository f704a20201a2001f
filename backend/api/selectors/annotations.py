"""Reads of annotations: whose work a user may see."""

from django.db.models import QuerySet

from ..models import Annotation, AnnotationRevision, Image
from ..permissions import can_read_all
from .datasets import visible_datasets


def annotation_list(*, user) -> QuerySet[Annotation]:
    """Return the annotations the user may see: everyone's for researchers and admins, else their own."""
    if not user.is_authenticated:
        return Annotation.objects.none()
    annotations = Annotation.objects.select_related("image", "annotator__profile").filter(
        image__dataset__in=visible_datasets(user=user).values("pk")
    )
    if not can_read_all(user):
        annotations = annotations.filter(annotator=user)
    return annotations


def annotation_for(*, image: Image, user) -> Annotation | None:
    """Return the user's own annotation of the image, if any."""
    return Annotation.objects.filter(image=image, annotator=user).first()


def revision_list(*, annotation: Annotation) -> QuerySet[AnnotationRevision]:
    return annotation.revisions.select_related("replaced_by").order_by("-version")
