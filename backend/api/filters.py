"""Query parameters of the list endpoints."""

import django_filters

from .models import Annotation, Image


class ImageFilter(django_filters.FilterSet):
    dataset = django_filters.NumberFilter(field_name="dataset", help_text="Dataset id.")

    class Meta:
        model = Image
        fields = ["dataset"]


class AnnotationFilter(django_filters.FilterSet):
    dataset = django_filters.NumberFilter(field_name="image__dataset", help_text="Dataset id.")
    annotator = django_filters.NumberFilter(field_name="annotator", help_text="Annotator's user id.")
    is_test = django_filters.BooleanFilter(
        field_name="annotator__profile__is_test", help_text="true: only test users' work; false: leave it out."
    )
    ordering = django_filters.OrderingFilter(fields=["started_at", "updated_at", "submitted_at", "id"])

    class Meta:
        model = Annotation
        fields = ["dataset", "image", "annotator", "status", "label", "is_test"]
