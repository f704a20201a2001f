"""What the file-serving views share: content negotiation, query validation, ETags, the image files themselves."""

import mimetypes
from collections.abc import Callable
from dataclasses import dataclass, field

from django.http import FileResponse, HttpResponse, HttpResponseNotModified
from django.utils.cache import patch_cache_control
from django.utils.http import parse_etags
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer

from ..files import accel_location, display_copy, image_open
from ..models import Image, ImageAttachment
from ..query_params import query_data


class FileNegotiation(BaseContentNegotiation):
    """Answer with the file whatever the Accept header says, and errors in JSON.

    DRF would otherwise refuse ``Accept: image/png`` (no such renderer) and read
    ``?format=coco`` as a request for a renderer named "coco".
    """

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class FileApiMixin:
    """For APIViews that return files: JSON errors, the file otherwise.

    One renderer, so DRF adds no ``Vary: Accept``: a file is the same whatever the client
    accepts, and the service worker's cache, which honours Vary, then finds a file fetched
    ahead (``Accept: */*``) when an <img> asks for it (``Accept: image/...``).
    """

    renderer_classes = [JSONRenderer]
    content_negotiation_class = FileNegotiation


def validated_query(serializer_class, request, **context):
    """Return the query parameters validated by the serializer; bad ones raise a 400 naming them."""
    query = serializer_class(data=query_data(request.query_params), context=context)
    query.is_valid(raise_exception=True)
    return query


def etag_matches(request, etag: str) -> bool:
    """Return True if the client already holds this version (If-None-Match names it, or is *)."""
    header = request.headers.get("If-None-Match")
    if not header:
        return False
    tags = parse_etags(header)
    return "*" in tags or etag in tags or etag in {tag.removeprefix("W/") for tag in tags}


@dataclass(frozen=True)
class FileBody:
    """What a ``cached_file`` builder returns: the file's bytes, any headers to add, whether it may be cached.

    Not ``cacheable``: a stand-in (a placeholder for an image file that may be back soon).
    """

    content: bytes
    headers: dict[str, str] = field(default_factory=dict)
    cacheable: bool = True


def cached_file(
    request,
    *,
    etag: str,
    content_type: str,
    build: Callable[[], FileBody],
    filename: str | None = None,
    max_age: int = 0,
) -> HttpResponse:
    """Return the file ``build`` makes, or 304 when the client holds this ETag already (nothing is built).

    Private (annotations and images may be biometric data). With ``max_age`` 0 it is revalidated
    on every use, so a new version is seen at once while an unchanged one costs a 304; else
    browsers keep it that many seconds first. A body that is not ``cacheable`` is sent with
    ``no-store`` and no ETag.
    """
    if etag_matches(request, etag):
        response = HttpResponseNotModified()
    else:
        body = build()
        response = HttpResponse(body.content, content_type=content_type)
        if filename is not None:
            response["Content-Disposition"] = f'inline; filename="{filename}"'
        for name, value in body.headers.items():
            response[name] = value
        if not body.cacheable:
            patch_cache_control(response, no_store=True)
            return response
    response["ETag"] = etag
    if max_age:
        patch_cache_control(response, private=True, max_age=max_age)
    else:
        patch_cache_control(response, private=True, no_cache=True)
    return response


def safe_filename(text: str) -> str:
    """Return text fit for a Content-Disposition file name: no quotes, slashes or control characters."""
    return "".join(c if c.isprintable() and c not in '"\\/' else "_" for c in text)


def image_file_response(request, image: Image | ImageAttachment) -> HttpResponse:
    """Return the image's (or an attachment's) bytes, privately cacheable and revalidated by their SHA-256.

    With IMAGES_ACCEL_REDIRECT set (behind Nginx), Django only authorizes and Nginx sends the
    file from its internal location (``files.accel_location``). A file that is missing or a
    store that does not answer raises ``files``' errors, which the API answers 404 and 503.
    """
    etag = f'"{image.sha256}"'  # a display copy is made from the file alone: the file's ETag fits it too
    content_type = mimetypes.guess_type(image.path)[0] or "application/octet-stream"
    if etag_matches(request, etag):
        response = HttpResponseNotModified()
    elif (copy := display_copy(image)) is not None:  # TIFF, BMP, 16-bit, CMYK, EXIF-rotated: a PNG
        response = HttpResponse(copy, content_type="image/png")
    elif location := accel_location(image):
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = location
    else:
        response = FileResponse(image_open(image), content_type=content_type)
    response["ETag"] = etag
    # Biometric images: never in shared caches; browsers keep them a day and revalidate by ETag.
    patch_cache_control(response, private=True, max_age=86400)
    return response
