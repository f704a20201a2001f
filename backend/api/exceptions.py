"""One shape for every error the API returns.

    {"code": "invalid", "detail": "strokes[0].width must be between 0.5 and 512 image pixels; got 0.",
     "errors": [{"field": "strokes[0].width", "code": "width_out_of_range", "detail": "..."}]}

``detail`` is the first problem, ready to show; ``errors`` lists every problem with the
field it concerns (null when it concerns the whole request).

A database that cannot be reached (restarting, failing over, the network down) is a ``503``
with ``Retry-After`` and the code ``database_unavailable``, not a 500: the request was fine,
and sending it again later works (saves are transactions, and repeating one is harmless).
"""

import logging
import sys

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from .services import ImageUnavailable, VersionConflict

logger = logging.getLogger(__name__)

# Django raises these (wrapping the driver's) when the connection cannot be made or is lost, when
# the server shuts down or recovers ("the database system is starting up"), and for transient
# refusals such as a deadlock or a lock timeout: all pass by themselves, so the client should
# retry. Errors in our queries (ProgrammingError, DataError, IntegrityError) stay 500s.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 2


def exception_handler(exc, context):
    if isinstance(exc, DATABASE_UNAVAILABLE):
        request = context["request"]
        logger.warning("Database unavailable: %s %s: %s", request.method, request.path, _first_line(exc))
        return Response(DATABASE_UNAVAILABLE_BODY, status=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
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


_MESSAGE = "The database cannot be reached right now (it may be restarting). Try again in a few seconds."
DATABASE_UNAVAILABLE_BODY = {
    "code": "database_unavailable",
    "detail": _MESSAGE,
    "errors": [{"field": None, "code": "database_unavailable", "detail": _MESSAGE}],
}


def _first_line(exc: Exception) -> str:
    return str(exc).strip().split("\n", 1)[0]


def server_error(request):
    """Answer errors outside the API's views (admin, sessions, middleware): 503 when the database is away.

    Django's handler500, called with the error being handled; anything else gets Django's own 500.
    """
    if isinstance(sys.exc_info()[1], DATABASE_UNAVAILABLE):
        response = JsonResponse(DATABASE_UNAVAILABLE_BODY, status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return defaults.server_error(request)
