"""Refuse API request bodies the server would misread, before anything reads them.

Django reads a body only as far as its Content-Length: a chunked body (no Content-Length, as
Gunicorn passes it on) reads as empty, and a save would be refused for a missing field that
was sent. And a body past DATA_UPLOAD_MAX_MEMORY_SIZE raises RequestDataTooBig wherever it is
first read, a 400 with a logged error. So, checked here first: a chunked body is 411 (send a
Content-Length; Nginx does so for its clients), and a declared length past
ANNOTATION_MAX_BODY_BYTES is 413, at any size, without reading a byte of it.
"""

from django.conf import settings

from .exceptions import error_response, is_api_request


def request_body_limit_middleware(get_response):
    """Answer 411 for a chunked API body and 413 for one declared past ANNOTATION_MAX_BODY_BYTES."""

    def middleware(request):
        if is_api_request(request):
            refusal = _body_refusal(request.META)
            if refusal is not None:
                return refusal
        return get_response(request)

    return middleware


def _body_refusal(meta):
    if "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower():
        return error_response(
            411,
            "length_required",
            "The request body was sent in chunks without a Content-Length; send it with a Content-Length header.",
        )
    declared = meta.get("CONTENT_LENGTH") or ""
    limit = settings.ANNOTATION_MAX_BODY_BYTES
    if declared.isdigit() and int(declared) > limit:
        return error_response(
            413,
            "body_too_large",
            f"The request body is {int(declared) / 1e6:.1f} MB; the limit is {limit / 1e6:.1f} MB "
            "(ANNOTATION_MAX_BODY_BYTES).",
        )
    return None
