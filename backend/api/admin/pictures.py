"""The admin's pictures: image thumbnails and masks drawn over their image, privately cached by ETag."""

from collections.abc import Callable

from django.http import HttpResponse

from .. import thumbnails
from ..files import ImageFileMissing, ImageStoreUnavailable, image_read
from ..models import Image
from ..views.file_responses import FileBody, cached_file
from .display import THUMBNAIL

PICTURE_MAX_AGE = 3600  # seconds a browser keeps a thumbnail or an overlay before revalidating it


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

    def draw() -> FileBody:
        content, absent = image_content(image)
        return FileBody(thumbnails.mask_overlay(content, mask(), size, absent=absent), cacheable=content is not None)

    return picture_response(request, etag=f"{key}-{size}", content_type="image/png", draw=draw)


def picture_response(request, *, etag: str, content_type: str, draw: Callable[[], FileBody]) -> HttpResponse:
    """Return the picture ``draw()`` makes, kept an hour by the browser and revalidated by its ETag.

    A placeholder (file missing, store not answering) is never cached, since the file may be back
    soon (``draw`` says so); a revalidation is answered without reading the file.
    """
    return cached_file(request, etag=f'"{etag}"', content_type=content_type, build=draw, max_age=PICTURE_MAX_AGE)


def size_param(request) -> int:
    """Return the picture's size the request asks for (``?size=``), between 16 and 1024 pixels."""
    try:
        return min(max(int(request.GET.get("size", THUMBNAIL)), 16), 1024)
    except ValueError:
        return THUMBNAIL
