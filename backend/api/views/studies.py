"""Studies for researchers and admins: the list, one study, and its study file."""

from django.db.models import Count
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer

from .. import studyfile
from ..models import Study
from ..permissions import IsResearcherOrAdmin
from ..selectors import studies as study_selectors
from ..study_serializers import StudySerializer
from .file_responses import FileNegotiation


class FileFormatSerializer(serializers.Serializer):
    """The ``format`` query parameter of a study file."""

    format = serializers.ChoiceField(["yaml", "json"], default="yaml")


class StudyViewSet(viewsets.ReadOnlyModelViewSet):
    """Studies, for researchers and admins."""

    serializer_class = StudySerializer
    permission_classes = [IsResearcherOrAdmin]

    def get_queryset(self):
        return Study.objects.annotate(participant_count=Count("participants")).order_by("-created_at", "id")

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=["yaml", "json"], description="yaml (default) or json")],
        responses={(200, "application/yaml"): OpenApiTypes.OBJECT, (200, "application/json"): OpenApiTypes.OBJECT},
    )
    # FileNegotiation: DRF would read ?format=yaml as a request for a renderer named "yaml".
    @action(detail=True, url_path="file", renderer_classes=[JSONRenderer], content_negotiation_class=FileNegotiation)
    def study_file(self, request, pk=None):
        """Return the study as a study file: import it again (or elsewhere) to run the same study."""
        query = FileFormatSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        fmt = query.validated_data["format"]
        study = self.get_object()
        text = studyfile.write_study(study_selectors.study_file(study), fmt=fmt)
        response = HttpResponse(text, content_type="application/json" if fmt == "json" else "application/yaml")
        response["Content-Disposition"] = f'attachment; filename="{study.slug}.{"json" if fmt == "json" else "yaml"}"'
        return response
