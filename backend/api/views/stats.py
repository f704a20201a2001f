"""Agreement and quality figures of a dataset and of one image."""

from django.utils.cache import patch_cache_control
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import selectors
from ..permissions import IsResearcherOrAdmin
from ..query_params import StatsQuerySerializer
from .file_responses import etag_matches, validated_query

_RESPONSES = {
    200: OpenApiTypes.OBJECT,
    304: OpenApiResponse(description="Not modified: no selected annotation or image changed."),
}


def _cached(request, etag: str, compute) -> Response:
    """Return the figures ``compute`` makes, or 304 when the client holds them already (nothing computed)."""
    response = Response(status=304) if etag_matches(request, etag) else Response(compute())
    response["ETag"] = etag
    patch_cache_control(response, private=True, no_cache=True)
    return response


class DatasetStatsApi(APIView):
    permission_classes = [IsResearcherOrAdmin]

    @extend_schema(parameters=[StatsQuerySerializer], responses=_RESPONSES)
    def get(self, request, pk):
        """Return the dataset's agreement and quality: IoU, Dice, Fleiss' kappa, accuracy, time; per annotator
        and per image."""
        dataset = get_object_or_404(selectors.dataset_list(user=request.user), pk=pk)
        selection = validated_query(StatsQuerySerializer, request, choices=dataset.choices).selection()
        etag = selectors.stats_etag(selection=selection, dataset=dataset)
        return _cached(request, etag, lambda: selectors.dataset_stats(dataset=dataset, selection=selection))


class ImageStatsApi(APIView):
    permission_classes = [IsResearcherOrAdmin]

    @extend_schema(parameters=[StatsQuerySerializer], responses=_RESPONSES)
    def get(self, request, pk):
        """Return one image's agreement: every pair of annotators' IoU and Dice, every answer, time spent."""
        image = get_object_or_404(selectors.image_list(user=request.user), pk=pk)
        selection = validated_query(StatsQuerySerializer, request, choices=image.dataset.choices).selection()
        etag = selectors.stats_etag(selection=selection, image=image)
        return _cached(request, etag, lambda: selectors.image_stats(image=image, selection=selection))
