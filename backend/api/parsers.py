"""Request parsing with a size limit, since DRF's JSON parser reads bodies of any size."""

import codecs
import json

import orjson
from django.conf import settings
from rest_framework import exceptions
from rest_framework.parsers import JSONParser


class RequestTooLarge(exceptions.APIException):
    status_code = 413
    default_code = "body_too_large"


class LimitedJSONParser(JSONParser):
    """Parse JSON bodies up to ANNOTATION_MAX_BODY_BYTES, refusing NaN and Infinity."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.ANNOTATION_MAX_BODY_BYTES
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and declared.isdigit() and int(declared) > limit:
            raise self._too_large(int(declared), limit)
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise self._too_large(None, limit)
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.decode(raw, encoding)
        except (ValueError, UnicodeDecodeError) as error:
            raise exceptions.ParseError(f"The body is not valid JSON: {error}") from None
        try:
            # orjson reads a strokes document (thousands of floats) five times as fast as json. What
            # it refuses (NaN, Infinity, lone surrogates, deep nesting, bad JSON) json reads again,
            # so such a body is accepted or refused, and its error worded, as json alone would. The
            # one difference: an integer beyond 64 bits comes back a float, and is out of every
            # field's range either way.
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
        try:
            # NaN and Infinity are not JSON, and not coordinates.
            return json.loads(text, parse_constant=_refuse_constant)
        except (ValueError, UnicodeDecodeError) as error:
            raise exceptions.ParseError(f"The body is not valid JSON: {error}") from None
        except RecursionError:
            # json gives up on arrays or objects nested deeper than Python's recursion limit (a 500 otherwise).
            raise exceptions.ParseError(
                "The body nests arrays or objects too deeply; a strokes document needs five levels."
            ) from None

    @staticmethod
    def _too_large(size, limit):
        got = f"{size / 1e6:.1f} MB" if size else f"more than {limit / 1e6:.1f} MB"
        return RequestTooLarge(
            f"The request body is {got}; the limit is {limit / 1e6:.1f} MB (ANNOTATION_MAX_BODY_BYTES)."
        )


def _refuse_constant(name):
    raise ValueError(f"{name} is not a number JSON allows")
