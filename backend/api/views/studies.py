"""Studies for researchers and admins: the list, one study, and its study file."""

from django.db.models import Count
from django.http import HttpResponse, StreamingHttpResponse
from django.utils.cache import patch_cache_control
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from .. import exporting, studyfile
from ..models import Study
from ..permissions import IsResearcherOrAdmin
from ..query_params import StrictQuerySerializer
from ..selectors import studies as study_selectors
from ..selectors.study_exports import (
    TRIAL_COLUMNS,
    TrialSelection,
    participant_columns,
    participant_records,
    study_participant_rows,
    study_trial_rows,
    study_trials_jsonl,
)
from ..study_serializers import StudySerializer
from .file_responses import FileNegotiation, validated_query


class FileFormatSerializer(StrictQuerySerializer):
    """The ``format`` query parameter of a study file."""

    format = serializers.ChoiceField(["yaml", "json"], default="yaml")


class StudyExportQuerySerializer(StrictQuerySerializer):
    """Which of a study's trials to export, and how."""

    format = serializers.ChoiceField(["csv", "jsonl"], default="csv", help_text="csv, or jsonl (with the strokes)")
    condition = serializers.SlugField(required=False, help_text="Only the trials under this condition (its slug).")
    kind = serializers.ChoiceField(
        ["main", "catch", "practice", "all"], default="main", help_text="main (the annotation phases' images), ..."
    )
    include_excluded = serializers.BooleanField(default=False, help_text="Also excluded participants.")
    include_test = serializers.BooleanField(default=False, help_text="Also test participants.")


class ParticipantsQuerySerializer(StrictQuerySerializer):
    format = serializers.ChoiceField(["csv", "json"], default="csv")


def _download(pieces, *, content_type: str, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(exporting.buffered(pieces), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    patch_cache_control(response, private=True, no_store=True)
    return response


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
        fmt = validated_query(FileFormatSerializer, request).validated_data["format"]
        study = self.get_object()
        text = studyfile.write_study(study_selectors.study_file(study), fmt=fmt)
        response = HttpResponse(text, content_type="application/json" if fmt == "json" else "application/yaml")
        response["Content-Disposition"] = f'attachment; filename="{study.slug}.{"json" if fmt == "json" else "yaml"}"'
        return response

    @extend_schema(
        parameters=[StudyExportQuerySerializer],
        responses={(200, "text/csv"): OpenApiTypes.BINARY, (200, "application/x-ndjson"): OpenApiTypes.BINARY},
    )
    @action(detail=True, renderer_classes=[JSONRenderer], content_negotiation_class=FileNegotiation)
    def export(self, request, pk=None):
        """Download the study's trials, one row per image shown, with its annotation and what the study adds.

        Each row: the participant's pseudonym (and platform id where kept), condition, phase and its
        place in their order, position, what guidance was shown and toggled, the catch verdict, times.
        ``?condition=`` gives one condition's trials (the per-condition export).
        """
        query = validated_query(StudyExportQuerySerializer, request)
        data = query.validated_data
        study = self.get_object()
        selection = TrialSelection(
            condition=data.get("condition"),
            kind=data["kind"],
            include_excluded=data["include_excluded"],
            include_test=data["include_test"],
        )
        name = f"{study.slug}{'-' + selection.condition if selection.condition else ''}-trials"
        if data["format"] == "jsonl":
            pieces = study_trials_jsonl(study=study, selection=selection)
            return _download(pieces, content_type="application/x-ndjson", filename=f"{name}.jsonl")
        rows = study_trial_rows(study=study, selection=selection)
        return _download(exporting.table_pieces(TRIAL_COLUMNS, rows), content_type="text/csv", filename=f"{name}.csv")

    @extend_schema(
        parameters=[ParticipantsQuerySerializer],
        responses={
            (200, "text/csv"): OpenApiTypes.BINARY,
            (200, "application/json"): {"type": "array", "items": {"type": "object"}},
        },
    )
    @action(detail=True, renderer_classes=[JSONRenderer], content_negotiation_class=FileNegotiation)
    def participants(self, request, pk=None):
        """Download the participants table: consent, answers, condition, phase order, steps, code, catch score."""
        query = validated_query(ParticipantsQuerySerializer, request)
        study = self.get_object()
        if query.validated_data["format"] == "json":
            return Response(list(participant_records(study)))
        rows = study_participant_rows(study=study)
        pieces = exporting.table_pieces(participant_columns(study), rows)
        return _download(pieces, content_type="text/csv", filename=f"{study.slug}-participants.csv")
