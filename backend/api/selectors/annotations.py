"""Reads of annotations: whose work a user may see."""

from django.db.models import QuerySet

from ..models import Annotation, AnnotationRevision, Image
from ..permissions import can_read_all
from ..rows import row_read
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
    """Return the user's own annotation of the image, if any, with that image and user as its own.

    One raw query (there is one annotation per image and annotator): opening an image reads it,
    and compiling the ORM's query (its ordering for ``first()``) cost several times running it.
    """
    annotation = row_read(Annotation, _ANNOTATION_SQL, [image.pk, user.pk])
    if annotation is not None:
        annotation.image, annotation.annotator = image, user  # not read again for the answer
    return annotation


_ANNOTATION_SQL = f"SELECT * FROM {Annotation._meta.db_table} WHERE image_id = %s AND annotator_id = %s"


def revision_list(*, annotation: Annotation) -> QuerySet[AnnotationRevision]:
    return annotation.revisions.select_related("replaced_by").order_by("-version")
