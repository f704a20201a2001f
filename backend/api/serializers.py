"""How datasets, images and annotations look over the API."""

from django.contrib.auth.models import User
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from . import strokes as strokes_mod
from .models import Annotation, AnnotationRevision, Dataset, Image
from .permissions import can_read_all, user_role

LIMITS = strokes_mod.DEFAULT_LIMITS
MAX_TEXT_LENGTH = 10_000
MAX_ACTIVE_MS = 10 * 365 * 24 * 3600 * 1000

STROKES_SCHEMA = {
    "type": "array",
    "maxItems": LIMITS.max_strokes,
    "description": (
        "The strokes in painting order, in image pixel coordinates. Each point is [x, y, t, p]: "
        "t in ms since the annotation was opened (non-decreasing within a stroke), p the pen pressure 0..1."
    ),
    "items": {
        "type": "object",
        "required": ["tool", "width", "points"],
        "additionalProperties": False,
        "properties": {
            "tool": {"type": "string", "enum": list(strokes_mod.TOOLS)},
            "width": {"type": "number", "minimum": LIMITS.min_width, "maximum": LIMITS.max_width},
            "points": {
                "type": "array",
                "minItems": 1,
                "maxItems": LIMITS.max_points_per_stroke,
                "items": {"type": "array", "minItems": 4, "maxItems": 4, "items": {"type": "number"}},
            },
        },
    },
}


@extend_schema_field(STROKES_SCHEMA)
class StrokesField(serializers.Field):
    """The strokes list, validated against the image in the serializer's context."""

    def to_internal_value(self, data):
        image = self.context["image"]
        try:
            return strokes_mod.validate_strokes(data, width=image.width, height=image.height)
        except strokes_mod.StrokesInvalid as error:
            # Paths are relative to this field, so the error handler names them strokes[3].width.
            raise serializers.ValidationError(
                {
                    path.removeprefix("strokes"): [serializers.ErrorDetail(message, code=code)]
                    for path, code, message in error.errors
                }
            ) from None

    def to_representation(self, value):
        return value


class DatasetSerializer(serializers.ModelSerializer):
    required = serializers.SerializerMethodField(help_text="What an annotator must provide to submit an image.")
    image_count = serializers.IntegerField(read_only=True)
    progress = serializers.SerializerMethodField(help_text="The caller's progress: images submitted, images in all.")

    class Meta:
        model = Dataset
        fields = [
            "id",
            "name",
            "slug",
            "description",
            "question",
            "choices",
            "required",
            "annotators_per_image",
            "image_count",
            "progress",
            "created_at",
            "updated_at",
        ]

    def get_required(self, dataset) -> dict[str, bool]:
        return {"choice": dataset.require_choice, "mask": dataset.require_mask, "text": dataset.require_text}

    def get_progress(self, dataset) -> dict[str, int]:
        return {"done": dataset.done_count, "total": dataset.image_count}


class ImageSerializer(serializers.ModelSerializer):
    short_id = serializers.CharField(read_only=True, help_text="First 8 hex digits of sha256.")
    file_url = serializers.SerializerMethodField(help_text="Where to fetch the image's bytes (signed-in users only).")
    ground_truth = serializers.SerializerMethodField(help_text="Null for annotators, so their answers stay unbiased.")
    metadata = serializers.SerializerMethodField(help_text="Empty for annotators, so their answers stay unbiased.")

    class Meta:
        model = Image
        fields = [
            "id",
            "dataset",
            "sha256",
            "short_id",
            "path",
            "position",
            "width",
            "height",
            "ground_truth",
            "metadata",
            "file_url",
        ]

    def _sees_truth(self) -> bool:
        request = self.context.get("request")
        return request is not None and can_read_all(request.user)

    def get_file_url(self, image) -> str:
        return f"/api/images/{image.pk}/file/"

    def get_ground_truth(self, image) -> str | None:
        return image.ground_truth if self._sees_truth() else None

    def get_metadata(self, image) -> dict:
        return image.metadata if self._sees_truth() else {}


class ClientInfoSerializer(serializers.Serializer):
    user_agent = serializers.CharField(max_length=500, allow_blank=True, required=False)
    device_pixel_ratio = serializers.FloatField(min_value=0.1, max_value=16, required=False)
    pointer_types = serializers.ListField(
        child=serializers.ChoiceField(["mouse", "pen", "touch"]), max_length=3, required=False
    )


class AnnotationSummarySerializer(serializers.ModelSerializer):
    dataset = serializers.IntegerField(source="image.dataset_id", read_only=True)
    annotator_username = serializers.CharField(source="annotator.username", read_only=True)

    class Meta:
        model = Annotation
        fields = [
            "id",
            "image",
            "dataset",
            "annotator",
            "annotator_username",
            "label",
            "text",
            "status",
            "version",
            "started_at",
            "submitted_at",
            "active_ms",
            "stroke_count",
            "mask_area",
            "created_at",
            "updated_at",
        ]


class AnnotationSerializer(AnnotationSummarySerializer):
    """The whole annotation: the strokes document with its metadata."""

    strokes = serializers.JSONField(read_only=True, help_text="See the strokes document in the README.")

    class Meta(AnnotationSummarySerializer.Meta):
        fields = AnnotationSummarySerializer.Meta.fields + ["strokes", "client"]


class AnnotationWriteSerializer(serializers.Serializer):
    """The strokes document a client PUTs; ``version`` is the version it was based on (0 for a new one)."""

    strokes = StrokesField()
    label = serializers.CharField(max_length=200, allow_null=True, default=None)
    text = serializers.CharField(max_length=MAX_TEXT_LENGTH, allow_blank=True, default="", trim_whitespace=False)
    status = serializers.ChoiceField(Annotation.Status.choices, default=Annotation.Status.DRAFT)
    version = serializers.IntegerField(min_value=0, max_value=2**31 - 1)
    started_at = serializers.DateTimeField(required=False, help_text="When the annotator opened the image.")
    active_ms = serializers.IntegerField(min_value=0, max_value=MAX_ACTIVE_MS, required=False)
    client = ClientInfoSerializer(required=False)


class RevisionSerializer(serializers.ModelSerializer):
    replaced_by_username = serializers.CharField(source="replaced_by.username", read_only=True, default=None)

    class Meta:
        model = AnnotationRevision
        fields = ["id", "version", "label", "text", "status", "reason", "replaced_by_username", "created_at"]


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)


class MeSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField()
    is_test = serializers.BooleanField(source="profile.is_test", read_only=True, default=False)

    class Meta:
        model = User
        fields = ["id", "username", "first_name", "last_name", "email", "role", "is_test"]

    def get_role(self, user) -> str | None:
        return user_role(user)


class TokenSerializer(serializers.Serializer):
    auth_token = serializers.CharField()
