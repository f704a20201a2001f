"""Query parameters of the list endpoints."""

import django_filters
from django import forms
from django_filters.constants import EMPTY_VALUES

from .models import Annotation, Image

# The largest id a bigint column holds; a larger number is no id, and SQLite cannot even bind it.
MAX_ID = 2**63 - 1


class IdFilter(django_filters.NumberFilter):
    """A row's id: a whole number from 1 to MAX_ID, refused with a message naming the parameter.

    django-filter's NumberFilter takes any decimal (``1.5``, ``1e50``), and a number beyond a
    bigint made SQLite raise OverflowError: a 500 for a typo.
    """

    field_class = forms.IntegerField

    def __init__(self, *args, what: str, **kwargs):
        """``what`` names the row with its article: "a dataset", "an image"."""
        message = f"must be {what} id, a whole number from 1 to {MAX_ID}."
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        kwargs.setdefault("error_messages", {"invalid": message, "min_value": message, "max_value": message})
        super().__init__(*args, **kwargs)


class StableOrderingFilter(django_filters.OrderingFilter):
    """Order by the fields asked for, then by id, so that pages never repeat or skip a row.

    django-filter's own turns ``?ordering=,`` into ``order_by()`` with no field at all: no order,
    so pages could overlap (Django warns, and the test suite, which makes warnings errors, got a 500).
    Nothing asked for keeps the default order.
    """

    def filter(self, qs, value):
        fields = [self.get_ordering_value(param) for param in value or () if param not in EMPTY_VALUES]
        return qs.order_by(*fields, "id") if fields else qs


class ImageFilter(django_filters.FilterSet):
    dataset = IdFilter(field_name="dataset", what="a dataset", help_text="Dataset id.")

    class Meta:
        model = Image
        fields = ["dataset"]


class AnnotationFilter(django_filters.FilterSet):
    dataset = IdFilter(field_name="image__dataset", what="a dataset", help_text="Dataset id.")
    image = IdFilter(field_name="image", what="an image", help_text="Image id.")
    annotator = IdFilter(field_name="annotator", what="a user", help_text="Annotator's user id.")
    is_test = django_filters.BooleanFilter(
        field_name="annotator__profile__is_test", help_text="true: only test users' work; false: leave it out."
    )
    # The research endpoints' vocabulary (query_params.STATUSES): a status, or all of them.
    status = django_filters.ChoiceFilter(
        choices=[*Annotation.Status.choices, ("all", "All")],
        method="filter_status",
        help_text="submitted, draft, or all (the default).",
    )
    ordering = StableOrderingFilter(fields=["started_at", "updated_at", "submitted_at", "id"])

    class Meta:
        model = Annotation
        fields = ["dataset", "image", "annotator", "status", "label", "is_test"]

    def filter_status(self, queryset, name, value):
        return queryset if value == "all" else queryset.filter(status=value)
