"""Datasets the caller may see, and the next image to annotate."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from .. import selectors
from ..serializers import DatasetSerializer, ImageSerializer

ProgressSerializer = inline_serializer(
    "Progress", {"done": serializers.IntegerField(), "total": serializers.IntegerField()}
)
NextSerializer = inline_serializer(
    "NextImage", {"image": ImageSerializer(allow_null=True), "progress": ProgressSerializer}
)


class DatasetViewSet(viewsets.ReadOnlyModelViewSet):
    """Datasets the caller may see, each with the caller's progress."""

    serializer_class = DatasetSerializer

    def get_queryset(self):
        return selectors.dataset_list(user=self.request.user)

    @extend_schema(responses=NextSerializer)
    @action(detail=True)
    def next(self, request, pk=None):
        """Return the image the caller should annotate next (null when done) and their progress."""
        dataset = self.get_object()
        image = selectors.next_image_for(dataset=dataset, user=request.user)
        return Response(
            {
                "image": ImageSerializer(image, context=self.get_serializer_context()).data if image else None,
                "progress": selectors.dataset_progress(dataset=dataset, user=request.user),
            }
        )
