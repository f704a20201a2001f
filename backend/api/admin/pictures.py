"""The admin's pictures: image thumbnails and masks drawn over their image, privately cached by ETag."""

from django.http import HttpResponse
from django.utils.cache import patch_cache_control

from .. import thumbnails
from ..files import ImageFileMissing, ImageStoreUnavailable, image_read
from ..models import Image
from .display import THUMBNAIL


def picture_response(request, *, etag: str, content_type: str, draw) -> HttpResponse:
    """Return the picture ``draw()`` makes, cacheable privately (biometric data) and revalidated by its ETag.

    ``draw`` returns the picture's bytes and whether it shows the image's file: a placeholder
    (file missing, store not answering) is never cached, since the file may be back soon. A
    revalidation is answered without reading the file.
    """
    etag = f'"{etag}"'
    if etag in request.headers.get("If-None-Match", ""):
        response = HttpResponse(status=304)
    else:
        content, real = draw()
        response = HttpResponse(content, content_type=content_type)
        if not real:
            patch_cache_control(response, no_store=True)
            return response
    response["ETag"] = etag
    patch_cache_control(response, private=True, max_age=3600)
    return response


def image_content(image: Image) -> tuple[bytes | None, str]:
    """Return the bytes of the image's file wherever it is stored, or None and why, for a placeholder to say."""
    try:
        return image_read(image), ""
    except ImageStoreUnavailable:  # logged by image_read; admin pages stay usable
        return None, "store not answering"
    except ImageFileMissing:  # also logged when it is not simply absent
        return None, "missing"


def overlay_response(request, image: Image, *, key: str, mask) -> HttpResponse:
    """Return the image with the boolean array ``mask()`` makes drawn over it, at the size the request asks.

    ``key`` names the mask's content (an annotation's version, a revision): the ETag is the key and the size.
    """
    size = size_param(request)

    def draw():
        content, absent = image_content(image)
        return thumbnails.mask_overlay(content, mask(), size, absent=absent), content is not None

    return picture_response(request, etag=f"{key}-{size}", content_type="image/png", draw=draw)


def size_param(request) -> int:
    """Return the picture's size the request asks for (``?size=``), between 16 and 1024 pixels."""
    try:
        return min(max(int(request.GET.get("size", THUMBNAIL)), 16), 1024)
    except ValueError:
        return THUMBNAIL
