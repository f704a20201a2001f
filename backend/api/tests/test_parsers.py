"""The JSON parser: orjson reads bodies, and whatever it refuses is read (or refused) as json alone would."""

import io
import json
import math

import pytest
from rest_framework.exceptions import ParseError

from backend.api.parsers import LimitedJSONParser

from .conftest import brush


def parse(raw: str):
    return LimitedJSONParser().parse(io.BytesIO(raw.encode("utf-8", "surrogatepass")))


@pytest.mark.parametrize(
    "raw",
    [
        json.dumps({"version": 3, "append": [brush([(1.5, 2.25), (3, 4e-7)])], "text": "é ü 漢"}),
        '{"text": "\\ud800 a lone surrogate"}',  # orjson refuses it; json reads it
        "[1e400, -1e400]",  # orjson refuses infinities; json reads them, and the strokes' checks refuse them
        '{"a": 1, "a": 2}',
        "[18446744073709551615, -9223372036854775808, 0.1, -0.0]",
    ],
)
def test_a_body_reads_as_json_reads_it(raw):
    parsed, expected = parse(raw), json.loads(raw)
    assert json.dumps(parsed) == json.dumps(expected)  # NaN-free: infinities compare, types included
    assert type(parsed) is type(expected)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused_naming_them(constant):
    with pytest.raises(ParseError, match=constant.lstrip("-")):
        parse(f"[[{constant}, 1, 0, 0]]")


@pytest.mark.parametrize(
    "raw, message",
    [
        ("{oops", "Expecting property name enclosed in double quotes: line 1 column 2"),
        ('{"a": 1,}', "Expecting property name enclosed in double quotes: line 1 column 9"),
        ("[" * 100_000 + "]" * 100_000, "nests arrays or objects too deeply"),
    ],
)
def test_a_bad_body_is_refused_with_jsons_words(raw, message):
    with pytest.raises(ParseError, match=message):
        parse(raw)


def test_infinities_read_as_floats():
    assert all(math.isinf(value) for value in parse("[1e400, -1e400]"))
