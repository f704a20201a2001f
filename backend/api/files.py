"""Serving dataset image files: only through views that have checked who is asking."""

import mimetypes
import os
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.http import FileResponse, HttpResponse, HttpResponseNotModified
from django.utils.cache import patch_cache_control
from rest_framework.exceptions import NotFound

from .models import Image


def image_path(image: Image) -> Path:
    """Return where the image's file lies, refusing any path that escapes its dataset's folder."""
    folder = os.path.abspath(os.path.join(settings.DATASET_ROOT, image.dataset.root))
    path = os.path.abspath(os.path.join(folder, image.path))
    if not path.startswith(folder + os.sep):
        raise NotFound("This image's path lies outside its dataset folder; an admin must fix the dataset.")
    return Path(path)


def image_file_response(request, image: Image) -> HttpResponse:
    """Return the image's bytes, privately cacheable and revalidated by their SHA-256.

    With IMAGES_ACCEL_REDIRECT set (behind Nginx), Django only authorizes and Nginx
    sends the file from its internal location.
    """
    etag = f'"{image.sha256}"'
    if etag in request.headers.get("If-None-Match", ""):
        response = HttpResponseNotModified()
    elif settings.IMAGES_ACCEL_REDIRECT:
        response = HttpResponse(content_type=_content_type(image.path))
        location = f"{settings.IMAGES_ACCEL_REDIRECT.rstrip('/')}/{quote(image.dataset.root)}/{quote(image.path)}"
        response["X-Accel-Redirect"] = location
    else:
        path = image_path(image)
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            raise NotFound(f"The file of image {image.pk} ({image.path}) is missing on the server.") from None
        response = FileResponse(handle, content_type=_content_type(image.path))
    response["ETag"] = etag
    # Biometric images: never in shared caches; browsers keep them a day and revalidate by ETag.
    patch_cache_control(response, private=True, max_age=86400)
    return response


def _content_type(path: str) -> str:
    return mimetypes.guess_type(path)[0] or "application/octet-stream"
