"""Studies for researchers and admins: the list, one study, and its study file."""

import numpy as np
from django.db.models import Count
from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.generics import get_object_or_404
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import exporting, saliency, services, studyfile
from ..models import Image, Study
from ..permissions import IsAdmin, IsResearcherOrAdmin
from ..query_params import StrictQuerySerializer
from ..selectors import studies as study_selectors
from ..selectors import study_research
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
from .file_responses import FileApiMixin, FileNegotiation, validated_query


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


class StudyMapQuerySerializer(StrictQuerySerializer):
    """Which of a study's maps of an image: one condition's, or its difference from another's."""

    condition = serializers.SlugField(help_text="The condition whose mean map to draw (its slug).")
    minus = serializers.SlugField(required=False, help_text="Draw the difference: condition's map minus this one's.")
    sigma = serializers.FloatField(default=0.0, min_value=0.0, max_value=saliency.MAX_SIGMA)


class StudyStatsQuerySerializer(StrictQuerySerializer):
    format = serializers.ChoiceField(["json", "csv"], default="json")
    sigma = serializers.FloatField(default=0.0, min_value=0.0, max_value=saliency.MAX_SIGMA)


class StudyStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(Study.Status.choices, help_text="open, paused, closed (or draft).")


class ParticipantsQuerySerializer(StrictQuerySerializer):
    format = serializers.ChoiceField(["csv", "json"], default="csv")


def _table(header, rows):
    """Return the pieces of a CSV table of these rows, every cell spreadsheet-safe."""
    return exporting.table_pieces(header, (exporting.csv_cells(cells) for cells in rows))


def _file(data: bytes, *, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    patch_cache_control(response, private=True, no_store=True)
    return response


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
        return _download(_table(TRIAL_COLUMNS, rows), content_type="text/csv", filename=f"{name}.csv")

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
        pieces = _table(participant_columns(study), rows)
        return _download(pieces, content_type="text/csv", filename=f"{study.slug}-participants.csv")

    @extend_schema(responses=OpenApiTypes.OBJECT)
    @action(detail=True)
    def dashboard(self, request, pk=None):
        """Return the study at a glance: enrolment over time, where participants are, completion and drop-out rates,
        participants per condition, catch failures, median times."""
        return Response(study_research.study_dashboard(study=self.get_object(), now=timezone.now()))

    @extend_schema(request=StudyStatusSerializer, responses=StudySerializer)
    @action(detail=True, methods=["post"], permission_classes=[IsAdmin])
    def status(self, request, pk=None):
        """Open, pause, close or reopen the study (admins)."""
        body = StudyStatusSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        study = services.study_set_status(study=self.get_object(), status=body.validated_data["status"])
        return Response(StudySerializer(self.get_queryset().get(pk=study.pk)).data)

    @extend_schema(
        parameters=[StudyStatsQuerySerializer],
        responses={(200, "application/json"): OpenApiTypes.OBJECT, (200, "text/csv"): OpenApiTypes.BINARY},
    )
    @action(detail=True, renderer_classes=[JSONRenderer], content_negotiation_class=FileNegotiation)
    def stats(self, request, pk=None):
        """Return agreement per condition: each image's split-half reliability per condition, CC and KL between
        conditions' maps, and their means over the images (CSV: one row per image and condition)."""
        query = validated_query(StudyStatsQuerySerializer, request).validated_data
        study = self.get_object()
        figures = study_research.study_condition_stats(study=study, sigma=query["sigma"])
        if query["format"] == "json":
            return Response(figures)
        header, rows = study_research.stats_table(figures)
        return _download(_table(header, rows), content_type="text/csv", filename=f"{study.slug}-stats.csv")

    @extend_schema(responses=OpenApiTypes.OBJECT)
    @action(detail=True, url_path=r"images/(?P<image_id>[0-9]+)/stats")
    def image_stats(self, request, pk=None, image_id=None):
        """Return the image's figures per condition (masks, split-half reliability) and per pair (CC, KL)."""
        study = self.get_object()
        return Response(study_research.image_condition_stats(study=study, image=_study_image(study, image_id)))


def _study_image(study: Study, image_id) -> Image:
    image = study_research.study_image(study=study, image_id=int(image_id))
    if image is None:
        raise NotFound(f"Study {study.pk} has no annotated image {str(image_id)[:20]} that you may see.")
    return image


class StudyImageMapApi(FileApiMixin, APIView):
    """An image's mean map under a condition, or the difference of two conditions' maps."""

    permission_classes = [IsResearcherOrAdmin]
    suffix = "png"

    def _map(self, request, pk, image_id) -> tuple[np.ndarray, Image, str]:
        query = validated_query(StudyMapQuerySerializer, request).validated_data
        study = get_object_or_404(Study, pk=pk)
        image = _study_image(study, image_id)
        condition, sigma = query["condition"], query["sigma"]
        heat, _ = study_research.condition_map(study=study, image=image, condition=condition, sigma=sigma)
        if query.get("minus"):
            other, _ = study_research.condition_map(study=study, image=image, condition=query["minus"], sigma=sigma)
            return heat - other, image, f"{condition}-minus-{query['minus']}"
        return heat, image, condition


class StudyImageMapPngApi(StudyImageMapApi):
    @extend_schema(parameters=[StudyMapQuerySerializer], responses={(200, "image/png"): OpenApiTypes.BINARY})
    def get(self, request, pk, image_id):
        """Return the image's mean map under a condition (grey: the fraction of its participants who marked each
        pixel), or with ``minus`` the difference of two conditions' maps (red: more under the first, blue: less)."""
        heat, image, name = self._map(request, pk, image_id)
        data = saliency.difference_png(heat) if "-minus-" in name else saliency.heat_png(heat)
        return _file(data, content_type="image/png", filename=f"{image.sha256[:8]}-{name}.png")


class StudyImageMapNpyApi(StudyImageMapApi):
    @extend_schema(
        parameters=[StudyMapQuerySerializer], responses={(200, "application/octet-stream"): OpenApiTypes.BINARY}
    )
    def get(self, request, pk, image_id):
        """Return the same map as NumPy .npy (float32; a difference lies in -1..1)."""
        heat, image, name = self._map(request, pk, image_id)
        data = saliency.heat_npy(heat)
        return _file(data, content_type="application/octet-stream", filename=f"{image.sha256[:8]}-{name}.npy")
