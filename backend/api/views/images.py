"""Images, their files, and the caller's own annotation of each."""

from django.http import Http404, HttpResponse
from django.utils.cache import patch_vary_headers
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from .. import selectors, services
from ..filters import ImageFilter
from ..models import Annotation
from ..permissions import CanAnnotate, CanTakeImages
from ..schema import ERROR_RESPONSE
from ..selectors.strokes import annotation_strokes_json
from ..serializers import (
    AheadQuerySerializer,
    AnnotationChangeSerializer,
    AnnotationSerializer,
    AnnotationSummarySerializer,
    AnnotationWriteSerializer,
    ImageSerializer,
    NextSerializer,
    OwnAnnotationSerializer,
    SavedAnnotationSerializer,
    SkipSerializer,
    VersionConflictSerializer,
    annotation_change_arguments,
    annotation_summary,
    handout_data,
)
from .datasets import AHEAD_PARAMETER
from .file_responses import FileNegotiation, image_file_response

PREFER_PARAMETER = OpenApiParameter(
    "Prefer",
    str,
    OpenApiParameter.HEADER,
    description=(
        "`return=minimal` (RFC 7240): answer the saved annotation without `strokes` and `client`, "
        "which the client has just sent (the app's saves ask for this: they need the version). "
        "Answered with `Preference-Applied: return=minimal`."
    ),
)


def _prefers_minimal(request) -> bool:
    """Return True if the request says ``Prefer: return=minimal`` (RFC 7240), among other preferences or not."""
    for preference in request.headers.get("Prefer", "").split(","):
        name, _, value = preference.split(";", 1)[0].partition("=")
        if name.strip().lower() == "return" and value.strip().strip('"').lower() == "minimal":
            return True
    return False


def _saved(annotation: Annotation, *, created: bool, minimal: bool) -> Response:
    """Answer a save with the annotation; ``minimal`` leaves out what the client sent (~60 KB of strokes)."""
    data = annotation_summary(annotation) if minimal else AnnotationSerializer(annotation).data
    response = Response(data, status=201 if created else 200)
    if minimal:
        response["Preference-Applied"] = "return=minimal"
    patch_vary_headers(response, ["Prefer"])
    return response


def _with_strokes(annotation: Annotation) -> HttpResponse:
    """Answer the annotation as OwnAnnotationSerializer gives it, its strokes spliced in as JSON text.

    Opening an image reads this: a chunked document's strokes are joined as stored, not parsed
    and rendered again (~2 MB of JSON for 1,000 strokes), as the JSON Lines export does. The
    other fields are the summary's and ``client``, built directly (``annotation_summary``), not by
    a ModelSerializer building its fields anew for every image opened (a test holds them equal).
    """
    fields = JSONRenderer().render({**annotation_summary(annotation), "client": annotation.client})
    strokes = annotation_strokes_json(annotation).encode()
    return HttpResponse(fields[:-1] + b',"strokes":' + strokes + b"}", content_type="application/json")


class ImageViewSet(viewsets.ReadOnlyModelViewSet):
    """Images of the datasets the caller may see; ``?dataset=`` narrows to one dataset."""

    serializer_class = ImageSerializer
    filterset_class = ImageFilter

    def get_queryset(self):
        return selectors.image_list(user=self.request.user)

    def get_object(self):
        # The actions below name their image by id alone, on the hottest path (every save, every
        # image opened): two raw queries (selectors.visible_image) instead of the list's queryset
        # and its ?dataset= filter, with the same 404.
        if self.action not in ("annotation", "file", "skip"):
            return super().get_object()
        image = selectors.visible_image(user=self.request.user, pk=self.kwargs["pk"])
        if image is None:
            raise Http404
        self.check_object_permissions(self.request, image)
        return image

    @extend_schema(
        responses={
            (200, "image/*"): OpenApiTypes.BINARY,
            503: OpenApiResponse(
                ERROR_RESPONSE, description="The object store holding the images does not answer (S3 mode)."
            ),
        }
    )
    # One renderer: no Vary: Accept (see FileApiMixin), so an image fetched ahead is found offline.
    @action(detail=True, renderer_classes=[JSONRenderer], content_negotiation_class=FileNegotiation)
    def file(self, request, pk=None):
        """Return the image's bytes."""
        return image_file_response(request, self.get_object())

    @extend_schema(methods=["GET"], responses=OwnAnnotationSerializer)
    @extend_schema(
        methods=["PUT"],
        request=AnnotationWriteSerializer,
        responses={
            200: SavedAnnotationSerializer,
            201: SavedAnnotationSerializer,
            409: OpenApiResponse(
                VersionConflictSerializer,
                description="Saved elsewhere since `version` (version_conflict), or the image has every annotator "
                "it needs and the caller holds no place in it (image_full).",
            ),
        },
        parameters=[PREFER_PARAMETER],
    )
    @extend_schema(
        methods=["PATCH"],
        request=AnnotationChangeSerializer,
        responses={
            200: AnnotationSummarySerializer,
            201: AnnotationSummarySerializer,
            409: OpenApiResponse(
                VersionConflictSerializer,
                description="`version` is not the stored version (version_conflict: `current` is the stored "
                "annotation), or the image has every annotator it needs (image_full).",
            ),
        },
    )
    @action(detail=True, methods=["get", "put", "patch"], permission_classes=[CanAnnotate])
    def annotation(self, request, pk=None):
        """Get or save the caller's own annotation of this image (version 0: nothing saved yet).

        PUT saves the whole strokes document; PATCH saves what changed since a version (docs/strokes.md,
        "Incremental saves") and answers the annotation without its strokes.
        """
        image = self.get_object()
        if request.method == "GET":
            annotation = selectors.annotation_for(image=image, user=request.user)
            empty = Annotation(image=image, annotator=request.user, version=0, started_at=None)
            return _with_strokes(annotation or empty)
        if request.method == "PATCH":
            change = annotation_change_arguments(request.data, image=image, request=request)
            annotation, changed = services.annotation_change(image=image, annotator=request.user, **change)
            return _saved(annotation, created=changed and annotation.version == 1, minimal=True)
        body = AnnotationWriteSerializer(data=request.data, context={"image": image, "request": request})
        body.is_valid(raise_exception=True)
        annotation, changed = services.annotation_save(image=image, annotator=request.user, **body.save_arguments())
        return _saved(annotation, created=changed and annotation.version == 1, minimal=_prefers_minimal(request))

    @extend_schema(request=SkipSerializer, responses=NextSerializer, parameters=[AHEAD_PARAMETER])
    @action(detail=True, methods=["post"], permission_classes=[CanTakeImages])
    def skip(self, request, pk=None):
        """Skip this image with a reason, and get the next one (the same body as ``next``, ``?ahead=k`` too).

        A skipped image never comes back to the caller; its slot goes back to the pool for
        others. A submitted image cannot be skipped.
        """
        ahead = AheadQuerySerializer.read(request)
        image = self.get_object()
        body = SkipSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.queue_skip(image=image, annotator=request.user, reason=body.validated_data["reason"])
        handout = services.queue_next(dataset=image.dataset, annotator=request.user, ahead=ahead)
        progress = selectors.handout_progress(handout=handout, dataset=image.dataset)
        return Response(handout_data(handout, progress=progress, dataset=image.dataset, request=request))
