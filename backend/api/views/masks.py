"""One annotation as files: its mask as PNG, its strokes as SVG, its strokes document as JSON."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.generics import get_object_or_404
from rest_framework.views import APIView

from .. import exporting, masks, selectors
from ..query_params import MaskQuerySerializer, StrictQuerySerializer, SvgQuerySerializer
from ..selectors.strokes import annotation_strokes
from .file_responses import FileApiMixin, FileBody, cached_file, safe_filename, validated_query

_NOT_MODIFIED = {304: OpenApiResponse(description="Not modified: the If-None-Match ETag is this version's.")}


class _AnnotationFileApi(FileApiMixin, APIView):
    """An annotation the caller may see (annotators: their own; researchers and admins: all), else 404."""

    def annotation(self, request, pk, *, defer=("strokes", "client")):
        return get_object_or_404(selectors.annotation_list(user=request.user).defer(*defer), pk=pk)

    @staticmethod
    def etag(annotation, kind: str) -> str:
        # The content of every file below is a function of the annotation's version.
        return f'"annotation-{annotation.pk}-v{annotation.version}-{kind}"'

    @staticmethod
    def filename(annotation, extension: str) -> str:
        stem = exporting.file_name(annotation.image.path).rsplit(".", 1)[0]
        return safe_filename(f"{stem}__{annotation.annotator.username}.{extension}")


class AnnotationMaskPngApi(_AnnotationFileApi):
    @extend_schema(
        operation_id="annotations_mask_png",
        parameters=[MaskQuerySerializer],
        responses={(200, "image/png"): OpenApiTypes.BINARY, **_NOT_MODIFIED},
    )
    def get(self, request, pk):
        """Return the annotation's mask as a PNG of the image's size (white: set). Cached by version."""
        annotation = self.annotation(request, pk)
        depth = validated_query(MaskQuerySerializer, request).validated_data["depth"]
        image = annotation.image

        def build():
            mask = masks.annotation_mask(
                mask_rle=annotation.mask_rle,
                strokes=None if annotation.mask_rle else annotation_strokes(annotation),
                width=image.width,
                height=image.height,
            )
            return FileBody(masks.mask_png(mask, depth=depth))

        return cached_file(
            request,
            etag=self.etag(annotation, f"png{depth}"),
            content_type="image/png",
            filename=self.filename(annotation, "png"),
            build=build,
        )


class AnnotationMaskSvgApi(_AnnotationFileApi):
    @extend_schema(
        operation_id="annotations_mask_svg",
        parameters=[SvgQuerySerializer],
        responses={(200, "image/svg+xml"): OpenApiTypes.STR, **_NOT_MODIFIED},
    )
    def get(self, request, pk):
        """Return the annotation's strokes as SVG in image coordinates (erasers as SVG masks). Cached by version."""
        annotation = self.annotation(request, pk, defer=("client", "mask_rle"))
        background = validated_query(SvgQuerySerializer, request).validated_data["background"] == "black"
        image = annotation.image
        title = f"{exporting.file_name(image.path)} by {annotation.annotator.username}, version {annotation.version}"
        return cached_file(
            request,
            etag=self.etag(annotation, f"svg-{int(background)}"),
            content_type="image/svg+xml; charset=utf-8",
            filename=self.filename(annotation, "svg"),
            build=lambda: FileBody(
                masks.strokes_svg(
                    annotation_strokes(annotation), image.width, image.height, background=background, title=title
                ).encode("utf-8")
            ),
        )


class AnnotationStrokesJsonApi(_AnnotationFileApi):
    @extend_schema(
        operation_id="annotations_strokes_json",
        responses={(200, "application/json"): OpenApiTypes.OBJECT, **_NOT_MODIFIED},
    )
    def get(self, request, pk):
        """Return the strokes document with its timings, image and annotator: one line of the jsonl export."""
        annotation = self.annotation(request, pk, defer=("mask_rle",))
        validated_query(StrictQuerySerializer, request)
        return cached_file(
            request,
            etag=self.etag(annotation, "json"),
            content_type="application/json",
            filename=self.filename(annotation, "json"),
            build=lambda: FileBody((selectors.annotation_document(annotation) + "\n").encode("utf-8")),
        )
