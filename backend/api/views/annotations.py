"""Annotations: the caller's own for annotators, everyone's for researchers and admins."""

from rest_framework import viewsets

from .. import selectors
from ..filters import AnnotationFilter
from ..serializers import AnnotationSerializer, AnnotationSummarySerializer


class AnnotationViewSet(viewsets.ReadOnlyModelViewSet):
    """Annotations: the caller's own for annotators, everyone's for researchers and admins.

    The list leaves out the strokes; fetch one annotation for its whole strokes document.
    """

    filterset_class = AnnotationFilter

    def get_queryset(self):
        return selectors.annotation_list(user=self.request.user)

    def get_serializer_class(self):
        return AnnotationSummarySerializer if self.action == "list" else AnnotationSerializer

    def filter_queryset(self, queryset):
        if self.action == "list":
            queryset = queryset.defer("strokes", "mask_rle", "client")
        return super().filter_queryset(queryset)
