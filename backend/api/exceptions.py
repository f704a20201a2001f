"""One shape for every error the API returns.

    {"code": "invalid", "detail": "strokes[0].width must be between 0.5 and 512 image pixels; got 0.",
     "errors": [{"field": "strokes[0].width", "code": "width_out_of_range", "detail": "..."}]}

``detail`` is the first problem, ready to show; ``errors`` lists every problem with the
field it concerns (null when it concerns the whole request).
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from .services import ImageUnavailable, VersionConflict


def exception_handler(exc, context):
    if isinstance(exc, VersionConflict):
        return _version_conflict(exc, context)
    if isinstance(exc, ImageUnavailable):
        # 409: the request is fine, but the image no longer has a place for this annotator.
        exc = exceptions.APIException(str(exc), code=ImageUnavailable.code)
        exc.status_code = status.HTTP_409_CONFLICT
    if isinstance(exc, DjangoValidationError):
        # Services raise Django's ValidationError; keep its codes and field names.
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: Django logs it and answers 500
    if isinstance(exc, exceptions.ValidationError):
        errors = list(_flatten(exc.detail, None))
        code = "invalid"
    else:
        detail = exc.detail
        code = getattr(detail, "code", None) or exc.default_code
        errors = [{"field": None, "code": code, "detail": str(detail)}]
    first = errors[0] if errors else {"field": None, "detail": "Invalid request."}
    summary = first["detail"]
    if first["field"] and not summary.startswith(first["field"]):
        summary = f"{first['field']}: {summary}"
    response.data = {"code": code, "detail": summary, "errors": errors}
    return response


def _flatten(detail, path):
    """Yield {field, code, detail} for every message in a nested DRF error structure."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            if key == api_settings.NON_FIELD_ERRORS_KEY:
                yield from _flatten(value, path)
            else:
                key = str(key)
                if path is None or not key:
                    child = key or path
                else:
                    child = f"{path}{key}" if key.startswith("[") else f"{path}.{key}"
                yield from _flatten(value, child)
    elif isinstance(detail, list):
        nested = any(isinstance(item, (dict, list)) for item in detail)
        for index, item in enumerate(detail):
            if nested:
                if item:  # DRF leaves empty entries for list items without errors
                    yield from _flatten(item, f"{path or ''}[{index}]")
            else:
                yield from _flatten(item, path)
    else:
        yield {"field": path, "code": getattr(detail, "code", "invalid"), "detail": str(detail)}


def _version_conflict(exc: VersionConflict, context):
    from .serializers import AnnotationSerializer

    current = AnnotationSerializer(exc.current, context=context).data
    message = (
        f"This annotation changed elsewhere (another tab or device): your change was based on version "
        f"{exc.base_version}, the stored one is version {exc.current.version}. Reload it, or save again "
        f"with version {exc.current.version} to overwrite it."
    )
    errors = [{"field": "version", "code": "version_conflict", "detail": message}]
    return Response(
        {"code": "version_conflict", "detail": message, "errors": errors, "current": current},
        status=status.HTTP_409_CONFLICT,
    )
