"""Saliency heat maps of an image across its annotators: greyscale PNG, colour overlay, NumPy array."""

import io

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from PIL import Image as PILImage
from PIL import UnidentifiedImageError
from rest_framework.exceptions import NotFound
from rest_framework.generics import get_object_or_404
from rest_framework.views import APIView

from .. import exporting, saliency, selectors
from ..display_copies import display_pixels
from ..files import image_read
from ..permissions import IsResearcherOrAdmin
from ..query_params import NpyQuerySerializer, OverlayQuerySerializer, SaliencyQuerySerializer
from .file_responses import FileApiMixin, FileBody, cached_file, safe_filename, validated_query

_NOT_MODIFIED = {304: OpenApiResponse(description="Not modified: the selected annotations have not changed.")}
_MEDIA = {
    "png": ("png", "image/png"),
    "overlay": ("overlay.png", "image/png"),
    "npy": ("npy", "application/octet-stream"),
}


def _open_image(image) -> PILImage.Image:
    """Return the image's picture for an overlay, or 404 naming what is wrong with its file.

    Read wherever the file is stored (below DATASET_ROOT or in object storage): missing is a
    404, a store that does not answer a 503.
    """
    content = image_read(image)
    try:
        picture = PILImage.open(io.BytesIO(content))
        picture.load()
    except (UnidentifiedImageError, OSError) as error:  # truncated or replaced since the import
        raise NotFound(f"The file of image {image.pk} ({image.path}) cannot be read: {error}.") from None
    if picture.size != (image.width, image.height):
        raise NotFound(f"The file of image {image.pk} ({image.path}) changed size since it was imported.")
    return display_pixels(picture)  # 16-bit, CMYK: as the app shows them


def _saliency_file(request, pk, serializer_class, kind: str):
    """Return the image's heat map as ``kind`` (png, overlay or npy), cached by the selected annotations."""
    image = get_object_or_404(selectors.image_list(user=request.user), pk=pk)
    query = validated_query(serializer_class, request, choices=image.dataset.choices)
    data = query.validated_data
    if data.get("overlay"):
        kind = "overlay"
    sigma, opacity = data["sigma"], data.get("opacity", 0.6)
    selection = query.selection()

    def build():
        heat, count = selectors.image_saliency(image=image, selection=selection, sigma=sigma)
        if kind == "overlay":
            body = saliency.overlay_png(_open_image(image), heat, opacity=opacity)
        else:
            body = saliency.heat_npy(heat) if kind == "npy" else saliency.heat_png(heat)
        return FileBody(body, {"X-Annotation-Count": str(count)})

    extension, content_type = _MEDIA[kind]
    stem = exporting.file_name(image.path).rsplit(".", 1)[0]
    return cached_file(
        request,
        etag=selectors.saliency_etag(image=image, selection=selection, options=f"{kind}|{sigma!r}|{opacity!r}"),
        content_type=content_type,
        filename=safe_filename(f"{stem}__saliency.{extension}"),
        build=build,
    )


class _SaliencyApi(FileApiMixin, APIView):
    permission_classes = [IsResearcherOrAdmin]


class ImageSaliencyPngApi(_SaliencyApi):
    @extend_schema(
        operation_id="images_saliency_png",
        parameters=[SaliencyQuerySerializer],
        responses={(200, "image/png"): OpenApiTypes.BINARY, **_NOT_MODIFIED},
    )
    def get(self, request, pk):
        """Return the image's heat map as 8-bit greyscale (255: every selected annotator drew there).

        With ``overlay=true``, the heat map in colour over the image instead.
        """
        return _saliency_file(request, pk, SaliencyQuerySerializer, "png")


class ImageSaliencyOverlayApi(_SaliencyApi):
    @extend_schema(
        operation_id="images_saliency_overlay",
        parameters=[OverlayQuerySerializer],
        responses={(200, "image/png"): OpenApiTypes.BINARY, **_NOT_MODIFIED},
    )
    def get(self, request, pk):
        """Return the image with its heat map laid over it in colour (black, red, yellow, white)."""
        return _saliency_file(request, pk, OverlayQuerySerializer, "overlay")


class ImageSaliencyNpyApi(_SaliencyApi):
    @extend_schema(
        operation_id="images_saliency_npy",
        parameters=[NpyQuerySerializer],
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, **_NOT_MODIFIED},
    )
    def get(self, request, pk):
        """Return the heat map as a NumPy .npy file: float32, shape (height, width), values 0 to 1."""
        return _saliency_file(request, pk, NpyQuerySerializer, "npy")
