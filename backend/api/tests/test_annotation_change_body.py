"""A PATCH body validated by the short path reads exactly as AnnotationChangeSerializer reads it, or goes to it."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework import serializers

from backend.api import serializers as api_serializers
from backend.api.models import Image
from backend.api.serializers import AnnotationChangeSerializer, ClientInfoSerializer, annotation_change_arguments

from .conftest import brush

IMAGE = Image(width=64, height=48)
CLIENT = {"user_agent": "Mozilla/5.0", "device_pixel_ratio": 2, "pointer_types": ["pen", "mouse"]}
STARTED = (timezone.now() - timedelta(minutes=5)).isoformat()
TYPED = {"append": [], "version": 3, "remove": 0, "op": "p-34-3", "active_ms": 7000, "client": CLIENT, "text": "a"}


def typed(value):
    """Return the value with every type spelled out (2 == 2.0, and a dict's order counts), to compare exactly."""
    if isinstance(value, dict):
        return ("dict", [(key, typed(item)) for key, item in value.items()])
    if isinstance(value, list | tuple):
        return (type(value).__name__, [typed(item) for item in value])
    return (type(value).__name__, value)


def timeless(errors):
    """Return the errors as (message, code) with the server's time left out of the message (it moves on)."""
    if isinstance(errors, dict):
        return {key: timeless(item) for key, item in errors.items()}
    if isinstance(errors, list):
        return [timeless(item) for item in errors]
    return (re.sub(r"the server's time is \S+", "", str(errors)), errors.code)


def by_serializer(body):
    """Return (validated data, None) or (None, errors) as the serializer gives them."""
    serializer = AnnotationChangeSerializer(data=body, context={"image": IMAGE, "request": None})
    if serializer.is_valid():
        return serializer.validated_data, None
    return None, serializer.errors


def assert_read_alike(body):
    """Assert the short path reads the body as the serializer does, or leaves it to it; return what it read."""
    expected, errors = by_serializer(body)
    short = api_serializers._plain_change(body, IMAGE)
    if short is not None:
        assert errors is None, (body, errors)
        assert typed(dict(sorted(short.items()))) == typed(dict(sorted(expected.items())))
    if errors is None:
        arguments = annotation_change_arguments(body, image=IMAGE, request=None)
        assert typed(vars(arguments.pop("change"))) == typed(vars(_change_arguments(expected).pop("change")))
        assert typed(arguments) == typed({k: v for k, v in _change_arguments(expected).items() if k != "change"})
    else:
        with pytest.raises(serializers.ValidationError) as raised:
            annotation_change_arguments(body, image=IMAGE, request=None)
        assert timeless(raised.value.detail) == timeless(errors)
    return short


def _change_arguments(change):
    return api_serializers._change_arguments(change)


@pytest.mark.parametrize(
    "body",
    [
        TYPED,
        {**TYPED, "started_at": STARTED},
        {"version": 0},
        {"version": 2, "remove": 1, "append": [brush([(1, 2), (3, 4)], width=3)]},
        {"version": 1, "label": "real", "status": "submitted", "text": "it is"},
        {"version": 1, "label": None},
        {"version": 1, "label": "  real  "},  # trimmed, as the serializer trims it
        {"version": 1, "text": "  spaced  "},  # kept: text is not trimmed
        {"version": 1, "text": ""},
        {"version": 1, "text": "é ü 漢字 🙂"},
        {"version": 1, "op": " p-1 "},
        {"version": 1, "client": {"device_pixel_ratio": 1}},  # 1.0, a float
        {"version": 1, "client": {"pointer_types": []}},
        {"version": 1, "client": {}},
        {"version": 1, "active_ms": 0},
    ],
)
def test_a_well_formed_change_takes_the_short_path_and_reads_as_the_serializer_reads_it(body):
    assert assert_read_alike(body) is not None


@pytest.mark.parametrize(
    "body",
    [
        {},
        [],
        None,
        "text",
        {"version": -1},
        {"version": 2**31},
        {"version": True},
        {"version": 1.0},  # valid for the serializer (1), left to it
        {"version": "1"},
        {"version": None},
        {"version": 1, "unknown": 1},
        {"version": 1, "remove": None},
        {"version": 1, "append": None},
        {"version": 1, "append": {}},
        {"version": 1, "append": [brush([(1, 1)], width=0)]},
        {"version": 1, "append": [{"tool": "brush"}]},
        {"version": 1, "append": [brush([(0, 0), (60, 40)] * 5000, width=100)]},  # too much ink
        {"version": 1, "label": ""},
        {"version": 1, "label": "   "},
        {"version": 1, "label": "x" * 201},
        {"version": 1, "label": " " + "x" * 200 + " "},  # 200 once trimmed: valid
        {"version": 1, "label": 5},
        {"version": 1, "text": None},
        {"version": 1, "text": "x" * 10_001},
        {"version": 1, "text": "nul\x00"},
        {"version": 1, "text": "lone \ud800 surrogate"},
        {"version": 1, "status": "maybe"},
        {"version": 1, "status": None},
        {"version": 1, "op": ""},
        {"version": 1, "op": "not an id!"},
        {"version": 1, "op": "x" * 65},
        {"version": 1, "started_at": "yesterday"},
        {"version": 1, "started_at": (timezone.now() + timedelta(days=2)).isoformat()},
        {"version": 1, "started_at": None},
        {"version": 1, "active_ms": -1},
        {"version": 1, "client": None},
        {"version": 1, "client": "Firefox"},
        {"version": 1, "client": {"user_agent": "u" * 501}},
        {"version": 1, "client": {"device_pixel_ratio": 0}},
        {"version": 1, "client": {"device_pixel_ratio": 10**400}},
        {"version": 1, "client": {"pointer_types": ["stylus"]}},
        {"version": 1, "client": {"pointer_types": ["pen"] * 4}},
        {"version": 1, "client": {"browser": "Firefox"}},
    ],
)
def test_anything_else_reads_as_the_serializer_reads_it_with_its_errors(body):
    assert_read_alike(body)


_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-5, max_value=2**31 + 5),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["draft", "submitted", "real", "pen", "touch", "p-1", " x ", "", STARTED]),
    st.lists(st.sampled_from(["mouse", "pen", "touch", "ink", 1]), max_size=4),
    st.just([brush([(1, 2), (3, 4)])]),
)
_CLIENTS = st.dictionaries(st.sampled_from([*ClientInfoSerializer._declared_fields, "other"]), _VALUES, max_size=4)
_BODIES = st.dictionaries(
    st.sampled_from([*AnnotationChangeSerializer._declared_fields, "other"]), _VALUES | _CLIENTS, max_size=8
)


@settings(max_examples=400, deadline=None)
@given(_BODIES)
def test_any_body_reads_as_the_serializer_reads_it(body):
    assert_read_alike(body)


def test_the_short_path_knows_every_check_the_serializers_make():
    # A check added to either serializer (a validate_<field> method, validate(), validators, its own
    # reading of the body) must be added to the short path (serializers._plain_change) too.
    for serializer, known in [
        (AnnotationChangeSerializer, {"validate_started_at", "validate_append"}),
        (ClientInfoSerializer, set()),
    ]:
        checks = {name for name in dir(serializer) if name.startswith("validate_")} - set(dir(serializers.Serializer))
        assert checks == known
        for method in ("validate", "run_validation", "to_internal_value", "validate_empty_values", "run_validators"):
            assert getattr(serializer, method) is getattr(serializers.Serializer, method)
        assert not getattr(getattr(serializer, "Meta", None), "validators", None)
