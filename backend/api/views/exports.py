"""Dataset exports, streamed: COCO JSON, CSV, JSON Lines, or a zip of PNG masks."""

from django.http import StreamingHttpResponse
from django.utils.cache import patch_cache_control
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.generics import get_object_or_404
from rest_framework.views import APIView

from .. import selectors
from ..permissions import IsResearcherOrAdmin
from ..query_params import ExportQuerySerializer
from .file_responses import FileApiMixin, validated_query


class DatasetExportApi(FileApiMixin, APIView):
    permission_classes = [IsResearcherOrAdmin]

    @extend_schema(
        parameters=[ExportQuerySerializer],
        responses={
            (200, "application/json"): OpenApiTypes.OBJECT,
            (200, "text/csv"): OpenApiTypes.BINARY,
            (200, "application/x-ndjson"): OpenApiTypes.BINARY,
            (200, "application/zip"): OpenApiTypes.BINARY,
        },
    )
    def get(self, request, pk):
        """Download the dataset's annotations (submitted, by non-test users, unless asked) in ``format``.

        The file streams as it is written: the first bytes leave at once and memory stays
        flat whatever the dataset's size.
        """
        dataset = get_object_or_404(selectors.dataset_list(user=request.user), pk=pk)
        query = validated_query(ExportQuerySerializer, request, choices=dataset.choices)
        data = query.validated_data
        export = selectors.dataset_export(
            dataset=dataset,
            selection=query.selection(),
            format=data["format"],
            categories=data.get("categories"),
            sigma=data["sigma"],
        )
        response = StreamingHttpResponse(export.pieces, content_type=export.content_type)
        response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
        response["X-Annotation-Count"] = str(export.count)
        response["X-Accel-Buffering"] = "no"  # Nginx: pass bytes on as they come, do not buffer the download
        patch_cache_control(response, private=True, no_store=True)
        return response
