"""One shape for every error the API returns.

    {"code": "invalid", "detail": "strokes[0].width must be between 0.5 and 512 image pixels; got 0.",
     "errors": [{"field": "strokes[0].width", "code": "width_out_of_range", "detail": "..."}]}

``detail`` is the first problem, ready to show; ``errors`` lists every problem with the
field it concerns (null when it concerns the whole request).

A database that cannot be reached (restarting, failing over, the network down) is a ``503``
with ``Retry-After`` and the code ``database_unavailable``, not a 500: the request was fine,
and sending it again later works (saves are transactions, and repeating one is harmless).

DRF's views answer through ``exception_handler``; what Django answers before any view runs
(no such endpoint, a malformed request, an unexpected error) goes through the ``handler*``
views at the end, which ``backend/urls.py`` installs, in the same shape for every path under
``/api/`` but Django admin's pages.
"""

import logging
import sys

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from .files import ImageFileMissing, ImageStoreUnavailable
from .services import ImageUnavailable, StudyRefusal, VersionConflict

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
    if isinstance(exc, StudyRefusal):
        # A study's state refuses the request (closed, full, a step done already): its own status and code.
        refusal = exc
        exc = exceptions.APIException(str(refusal), code=refusal.code)
        exc.status_code = refusal.status
    if isinstance(exc, ImageUnavailable):
        # 409: the request is fine, but the image no longer has a place for this annotator.
        exc = exceptions.APIException(str(exc), code=ImageUnavailable.code)
        exc.status_code = status.HTTP_409_CONFLICT
    elif isinstance(exc, ImageFileMissing):
        exc = exceptions.NotFound(str(exc))
    elif isinstance(exc, ImageStoreUnavailable):
        # 503: the object store may answer again in a moment.
        exc = exceptions.APIException(str(exc), code="image_store_unavailable")
        exc.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    if isinstance(exc, DjangoValidationError):
        # Services raise Django's ValidationError; keep its codes and field names.
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404) or (isinstance(exc, exceptions.NotFound) and exc.detail == exc.default_detail):
        exc = exceptions.NotFound(_not_found_detail(context))
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


def _not_found_detail(context) -> str:
    """Say which object was not found, without telling whether it exists (objects one may not see are 404 too)."""
    request, view = context.get("request"), context.get("view")
    pk = getattr(view, "kwargs", {}).get("pk")
    parts = request.path.split("/") if request is not None else []
    if pk is not None and len(parts) > 2 and parts[1] == "api":
        thing = parts[2].removesuffix("s")  # /api/images/7/... -> image
        return f"There is no {thing} {str(pk)[:40]} that you may see: no such {thing}, or not one of yours."
    return exceptions.NotFound.default_detail


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
    from .serializers import OwnAnnotationSerializer

    # As the image's own annotation: version 0 with no id and no times when nothing is stored yet.
    current = OwnAnnotationSerializer(exc.current, context=context).data
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


# --- Errors Django answers before any API view runs (handler400, 403, 404, 500) ----------


def is_api_request(request) -> bool:
    """Say whether the request is to the API (JSON errors), not admin's pages or the API's documents."""
    # Django admin's pages are HTML for people; the schema and Swagger UI are documents.
    return request.path.startswith("/api/") and not request.path.startswith(("/api/admin/", "/api/docs/"))


def error_response(status_code: int, code: str, detail: str) -> JsonResponse:
    """Return an error in the API's shape, for the views below (DRF's views have exception_handler)."""
    errors = [{"field": None, "code": code, "detail": detail}]
    return JsonResponse({"code": code, "detail": detail, "errors": errors}, status=status_code)


def page_not_found(request, exception):
    if not is_api_request(request):
        return defaults.page_not_found(request, exception)
    path = request.path if len(request.path) <= 200 else request.path[:200] + "..."
    return error_response(
        404, "no_endpoint", f"There is no API endpoint at {path}; /api/docs/ lists them (ids are whole numbers)."
    )


def bad_request(request, exception):
    if not is_api_request(request):
        return defaults.bad_request(request, exception)
    # A SuspiciousOperation, refused before any view; say what to change in the client's words.
    if isinstance(exception, TooManyFieldsSent):
        detail = f"The request has more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} parameters; send fewer."
    elif isinstance(exception, RequestDataTooBig):
        detail = f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes for a form; send JSON."
    else:
        detail = f"The request is malformed: {exception}"
    return error_response(400, "bad_request", detail)


def permission_denied(request, exception):
    if not is_api_request(request):
        return defaults.permission_denied(request, exception)
    return error_response(403, "permission_denied", str(exception) or "You may not do this.")


def server_error(request):
    """Answer errors outside the API's views (admin, sessions, middleware): 503 when the database is away.

    Django's handler500, called with the error being handled; anything else is a 500, in the
    API's shape under /api/ and Django's own page elsewhere.
    """
    if isinstance(sys.exc_info()[1], DATABASE_UNAVAILABLE):
        response = JsonResponse(DATABASE_UNAVAILABLE_BODY, status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    if not is_api_request(request):
        return defaults.server_error(request)
    return error_response(
        500, "server_error", "The server failed to answer this request; the error is logged for the admins."
    )
