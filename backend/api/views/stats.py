"""Agreement and quality figures of a dataset and of one image."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import selectors
from ..permissions import IsResearcherOrAdmin
from ..query_params import StatsQuerySerializer
from .file_responses import validated_query


class DatasetStatsApi(APIView):
    permission_classes = [IsResearcherOrAdmin]

    @extend_schema(parameters=[StatsQuerySerializer], responses=OpenApiTypes.OBJECT)
    def get(self, request, pk):
        """Return the dataset's agreement and quality: IoU, Dice, Fleiss' kappa, accuracy, time; per annotator
        and per image."""
        dataset = get_object_or_404(selectors.dataset_list(user=request.user), pk=pk)
        query = validated_query(StatsQuerySerializer, request, choices=dataset.choices)
        return Response(selectors.dataset_stats(dataset=dataset, selection=query.selection()))


class ImageStatsApi(APIView):
    permission_classes = [IsResearcherOrAdmin]

    @extend_schema(parameters=[StatsQuerySerializer], responses=OpenApiTypes.OBJECT)
    def get(self, request, pk):
        """Return one image's agreement: every pair of annotators' IoU and Dice, every answer, time spent."""
        image = get_object_or_404(selectors.image_list(user=request.user), pk=pk)
        query = validated_query(StatsQuerySerializer, request, choices=image.dataset.choices)
        return Response(selectors.image_stats(image=image, selection=query.selection()))
