"""Query parameters of the research endpoints (masks, saliency, export, statistics), validated.

The export command validates its options through the same serializers, so the API and
the command accept the same values and refuse bad ones with the same messages.
"""

import math
from datetime import datetime, time

from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework import serializers

from . import exporting, saliency
from .selectors.research import Selection

STATUSES = ("submitted", "draft", "all")


def query_data(query_params) -> dict:
    """Return the query parameters as a dict; a repeated parameter becomes one comma-separated value."""
    return {key: ",".join(values) for key, values in query_params.lists()}


class StrictQuerySerializer(serializers.Serializer):
    """Refuse parameters it does not know, naming them: a misspelt filter must not be silently ignored."""

    def to_internal_value(self, data):
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            known = ", ".join(self.fields) or "none"
            raise serializers.ValidationError(
                {
                    name: [serializers.ErrorDetail(f"unknown parameter {name!r}; known: {known}.", code="unknown")]
                    for name in unknown
                }
            )
        return super().to_internal_value(data)


def _is_user_id(token: str) -> bool:
    # ASCII digits only ("²".isdigit() is true), and short enough for a bigint column.
    return token.isascii() and token.isdigit() and len(token) <= 18


class AnnotatorsField(serializers.CharField):
    """Comma-separated annotators, each a user id or a username; every one must exist."""

    def to_internal_value(self, data):
        text = super().to_internal_value(data)
        if "\x00" in text:  # PostgreSQL cannot even compare text holding NUL
            raise serializers.ValidationError("annotator must not contain NUL characters.", code="null_characters")
        tokens = [token.strip() for token in text.split(",") if token.strip()]
        if not tokens:
            raise serializers.ValidationError("name at least one annotator (user id or username).", code="blank")
        ids = {int(t) for t in tokens if _is_user_id(t)}
        names = {t for t in tokens if not _is_user_id(t)}
        found = set(User.objects.filter(pk__in=ids).values_list("pk", flat=True))
        found_names = dict(User.objects.filter(username__in=names).values_list("username", "pk"))
        missing = [t for t in tokens if (int(t) not in found if _is_user_id(t) else t not in found_names)]
        if missing:
            raise serializers.ValidationError(f"no such annotator: {', '.join(missing)}.", code="does_not_exist")
        return tuple(sorted(found | set(found_names.values())))


class DateOrDateTimeField(serializers.DateTimeField):
    """An ISO date (``2024-03-01``) or date-time; a date bound covers its whole day."""

    def __init__(self, *, end_of_day: bool, **kwargs):
        self.end_of_day = end_of_day
        super().__init__(**kwargs)

    def to_internal_value(self, value):
        if isinstance(value, str) and len(value) == 10:
            try:
                day = datetime.strptime(value, "%Y-%m-%d").date()
            except ValueError:
                raise serializers.ValidationError(
                    f"{value!r} is not a date; use YYYY-MM-DD or an ISO 8601 date-time.", code="invalid"
                ) from None
            moment = datetime.combine(day, time.max if self.end_of_day else time.min)
            return timezone.make_aware(moment, timezone.get_default_timezone())
        return super().to_internal_value(value)


class SelectionSerializer(StrictQuerySerializer):
    """Which annotations: the filters shared by saliency, export and statistics."""

    annotator = AnnotatorsField(
        required=False, help_text="Only these annotators: user ids or usernames, comma-separated or repeated."
    )
    status = serializers.ChoiceField(
        STATUSES, default="submitted", help_text="submitted (default), draft, or all annotations."
    )
    include_test = serializers.BooleanField(default=False, help_text="Include test users' work (left out by default).")
    label = serializers.CharField(required=False, max_length=200, help_text="Only annotations with this answer.")
    correct = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="true: only answers equal to the image's ground truth; false: only wrong answers. "
        "Annotations without an answer, or of images without ground truth, match neither.",
    )
    since = DateOrDateTimeField(
        end_of_day=False,
        required=False,
        help_text="Only work submitted (drafts: last saved) at or after this date or date-time.",
    )
    until = DateOrDateTimeField(
        end_of_day=True,
        required=False,
        help_text="Only work submitted (drafts: last saved) at or before this date (the whole day) or date-time.",
    )

    def validate(self, attrs):
        choices = self.context.get("choices")
        label = attrs.get("label")
        if label is not None and choices is not None and label not in choices:
            allowed = ", ".join(choices) or "none (this dataset has no choices)"
            raise serializers.ValidationError(
                {"label": serializers.ErrorDetail(f"label must be one of {allowed}; got {label!r}.", code="invalid")}
            )
        if attrs.get("since") and attrs.get("until") and attrs["since"] > attrs["until"]:
            raise serializers.ValidationError(
                {"until": serializers.ErrorDetail("until must not be before since.", code="invalid")}
            )
        return attrs

    def selection(self) -> Selection:
        data = self.validated_data
        return Selection(
            annotators=data.get("annotator", ()),
            status=data["status"],
            include_test=data["include_test"],
            label=data.get("label"),
            correct=data.get("correct"),
            since=data.get("since"),
            until=data.get("until"),
        )


class MaskQuerySerializer(StrictQuerySerializer):
    depth = serializers.ChoiceField(
        [1, 8], default=1, help_text="1: a 1-bit PNG (default); 8: 8-bit greyscale with 0 and 255."
    )


class SvgQuerySerializer(StrictQuerySerializer):
    background = serializers.ChoiceField(
        ["black", "none"],
        default="black",
        help_text="black: the mask in white on black, like the PNG; none: transparent, to lay over the image.",
    )


class RangeField(serializers.FloatField):
    """A finite number within [low, high], refused with a message saying the range and the value given.

    Finite, because "nan" and "inf" parse as floats and slip past DRF's range checks.
    """

    def __init__(self, *, low: float, high: float, unit: str = "", **kwargs):
        self.low, self.high, self.unit = low, high, unit
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        try:
            value = float(data)
        except (TypeError, ValueError):  # not a number at all
            value = math.nan
        if not (math.isfinite(value) and self.low <= value <= self.high):
            message = f"{self.field_name} must be a number from {self.low:g} to {self.high:g}{self.unit}; got {data!r}."
            raise serializers.ValidationError(message, code="out_of_range")
        return value


def sigma_field():
    return RangeField(
        low=0,
        high=saliency.MAX_SIGMA,
        unit=" image pixels",
        default=0.0,
        help_text=f"Gaussian smoothing, its standard deviation in image pixels (0 to {saliency.MAX_SIGMA:g}; "
        "0, the default, is no smoothing).",
    )


def opacity_field():
    return RangeField(low=0, high=1, default=0.6, help_text="Opacity of the overlay where every annotator drew.")


class SaliencyQuerySerializer(SelectionSerializer):
    sigma = sigma_field()
    overlay = serializers.BooleanField(
        default=False, help_text="true: the heat map in colour over the image, instead of greyscale."
    )
    opacity = opacity_field()


class OverlayQuerySerializer(SelectionSerializer):
    sigma = sigma_field()
    opacity = opacity_field()


class NpyQuerySerializer(SelectionSerializer):
    sigma = sigma_field()


class ExportQuerySerializer(SelectionSerializer):
    format = serializers.ChoiceField(exporting.FORMATS, help_text="coco, csv, jsonl or masks.")
    categories = serializers.ChoiceField(
        exporting.CATEGORY_MODES,
        required=False,
        help_text="COCO categories: choice (one per answer; the default when the dataset has choices) or salient.",
    )
    sigma = sigma_field()

    def validate(self, attrs):
        attrs = super().validate(attrs)
        choices = self.context.get("choices")
        if attrs.get("categories") == "choice" and choices is not None and not choices:
            raise serializers.ValidationError(
                {
                    "categories": serializers.ErrorDetail(
                        "this dataset has no choices; use categories=salient.", code="invalid"
                    )
                }
            )
        if attrs.get("categories") and attrs["format"] != "coco":
            raise serializers.ValidationError(
                {"categories": serializers.ErrorDetail("categories applies to format=coco only.", code="invalid")}
            )
        if attrs.get("sigma") and attrs["format"] != "masks":
            raise serializers.ValidationError(
                {"sigma": serializers.ErrorDetail("sigma applies to format=masks only.", code="invalid")}
            )
        return attrs


class StatsQuerySerializer(SelectionSerializer):
    pass
