"""How datasets, images and annotations look over the API.

One module, over 500 lines, because these shapes reference one another (a hand-out holds an
image, an annotation its version and strokes) and the OpenAPI schema is read from them; the
studies' own shapes are in ``study_serializers``.
"""

from datetime import timedelta

from django.contrib.auth.models import User
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers
from rest_framework.fields import empty

from . import selectors
from . import strokes as strokes_mod
from .models import Annotation, AnnotationRevision, Dataset, Image
from .permissions import can_read_all, participant_of, user_role
from .selectors.strokes import annotation_strokes
from .services.queue import MAX_AHEAD

LIMITS = strokes_mod.DEFAULT_LIMITS
MAX_TEXT_LENGTH = 10_000
MAX_ACTIVE_MS = 10 * 365 * 24 * 3600 * 1000
STARTED_AT_MAX_SKEW = timedelta(days=1)  # how far ahead of the server's clock a client's may run

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


class ProgressSerializer(serializers.Serializer):
    """One annotator's progress on a dataset."""

    done = serializers.IntegerField(help_text="Images submitted.")
    skipped = serializers.IntegerField(help_text="Images skipped.")
    in_progress = serializers.IntegerField(help_text="Images leased to them now.")
    total = serializers.IntegerField(
        help_text="Images they are expected to handle (submit or skip): every image, their fair share of the "
        "target, or their quota; exactly what they handled once nothing is left for them."
    )
    active_ms = serializers.IntegerField(help_text="Time spent actively annotating, in ms.")
    finished = serializers.BooleanField(help_text="Nothing is left for them in this dataset.")


class DatasetSerializer(serializers.ModelSerializer):
    required = serializers.SerializerMethodField(help_text="What an annotator must provide to submit an image.")
    image_count = serializers.IntegerField(read_only=True)
    progress = serializers.SerializerMethodField(help_text="The caller's progress on this dataset.")

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
            "images_per_annotator",
            "access",
            "order",
            "lease_minutes",
            "image_count",
            "progress",
            "created_at",
            "updated_at",
        ]

    def get_required(self, dataset) -> dict[str, bool]:
        return {"choice": dataset.require_choice, "mask": dataset.require_mask, "text": dataset.require_text}

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, dataset) -> dict:
        request = self.context["request"]
        if dataset.access == Dataset.Access.CHOSEN:
            eligible = dataset.chosen_eligible
        else:
            eligible = self.context["eligible_everyone"]()
        return selectors.progress_of(
            dataset=dataset,
            submitted=dataset.my_submitted,
            skipped=dataset.my_skipped,
            in_progress=dataset.my_in_progress,
            active_ms=dataset.my_active_ms,
            exhausted_version=dataset.my_exhausted,
            is_test=selectors.is_test_user(request.user),
            eligible=eligible,
        )


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


# Unbound, it formats date-times as every serializer's DateTimeField does (ISO 8601, UTC as Z).
_DATE_TIME = serializers.DateTimeField()


def annotation_summary(annotation: Annotation) -> dict:
    """Return ``AnnotationSummarySerializer(annotation).data``, built directly: a save's answer.

    The same keys in the same order, with the same formats (a test holds the two equal). A
    ModelSerializer builds its sixteen fields anew for every instance, which cost a save more than
    anything else in its answer.
    """

    def when(moment):
        return None if moment is None else _DATE_TIME.to_representation(moment)

    return {
        "id": annotation.pk,
        "image": annotation.image_id,
        "dataset": annotation.image.dataset_id,
        "annotator": annotation.annotator_id,
        "annotator_username": annotation.annotator.username,
        "label": annotation.label,
        "text": annotation.text,
        "status": annotation.status,
        "version": annotation.version,
        "started_at": when(annotation.started_at),
        "submitted_at": when(annotation.submitted_at),
        "active_ms": annotation.active_ms,
        "stroke_count": annotation.stroke_count,
        "mask_area": annotation.mask_area,
        "created_at": when(annotation.created_at),
        "updated_at": when(annotation.updated_at),
    }


class AnnotationSerializer(AnnotationSummarySerializer):
    """The whole annotation: the strokes document with its metadata."""

    strokes = serializers.SerializerMethodField(help_text="See the strokes document (docs/strokes.md).")

    class Meta(AnnotationSummarySerializer.Meta):
        fields = AnnotationSummarySerializer.Meta.fields + ["strokes", "client"]

    @extend_schema_field(STROKES_SCHEMA)
    def get_strokes(self, annotation) -> list:
        return annotation_strokes(annotation)


class OwnAnnotationSerializer(AnnotationSerializer):
    """The caller's own annotation of an image: before its first save, version 0 with no id and no times."""

    class Meta(AnnotationSerializer.Meta):
        extra_kwargs = {name: {"allow_null": True} for name in ("id", "started_at", "created_at", "updated_at")}


class SavedAnnotationSerializer(AnnotationSerializer):
    """A save's answer, for the schema: the whole annotation, or without ``strokes`` and ``client``
    when the save asked for ``Prefer: return=minimal``."""

    strokes = serializers.JSONField(
        required=False, help_text="Left out when the save asked for `Prefer: return=minimal`."
    )


VersionConflictSerializer = inline_serializer(
    "VersionConflict",
    {
        "code": serializers.CharField(help_text="`version_conflict`, or `image_full` (then without `current`)."),
        "detail": serializers.CharField(),
        "errors": serializers.ListField(child=serializers.DictField()),
        "current": OwnAnnotationSerializer(
            required=False,
            help_text="The stored annotation (version_conflict only): keep it, or save again over it. Version 0 with "
            "no id and no times when nothing is stored (a change based on a version the server does not hold).",
        ),
    },
)


class AnnotationWriteSerializer(serializers.Serializer):
    """The strokes document a client PUTs; ``version`` is the version it was based on (0 for a new one)."""

    def save_arguments(self) -> dict:
        """Return the validated document as ``annotation_save``'s arguments (but the image and the annotator)."""
        from .services import AnnotationContent

        document = self.validated_data
        return {
            "content": AnnotationContent(
                strokes=document["strokes"], label=document["label"], text=document["text"], status=document["status"]
            ),
            "base_version": document["version"],
            "started_at": document.get("started_at"),
            "active_ms": document.get("active_ms"),
            "client": document.get("client"),
        }

    strokes = StrokesField(
        help_text=STROKES_SCHEMA["description"] + " What a save paints (the strokes after the stored ones when it "
        f"appends to them, else all of them) may hold at most {LIMITS.max_ink:,} units of ink (too_much_ink): send "
        "more in several saves (docs/strokes.md, Ink budget)."
    )
    label = serializers.CharField(max_length=200, allow_null=True, default=None)
    text = serializers.CharField(max_length=MAX_TEXT_LENGTH, allow_blank=True, default="", trim_whitespace=False)
    status = serializers.ChoiceField(Annotation.Status.choices, default=Annotation.Status.DRAFT)
    version = serializers.IntegerField(min_value=0, max_value=2**31 - 1)
    started_at = serializers.DateTimeField(required=False, help_text="When the annotator opened the image.")
    active_ms = serializers.IntegerField(min_value=0, max_value=MAX_ACTIVE_MS, required=False)
    client = ClientInfoSerializer(required=False)

    def validate_started_at(self, value):
        return _started_at_checked(value)


def _started_at_checked(value):
    """Return ``started_at`` if it is not in the future, else raise a ValidationError saying so."""
    # The client's clock sets it; allow a day of skew, but a start in the future would
    # make every time-per-image figure in the exports negative or absurd.
    latest = timezone.now() + STARTED_AT_MAX_SKEW
    if value > latest:
        raise serializers.ValidationError(
            f"started_at must not be in the future; got {value.isoformat()}, the server's time is "
            f"{timezone.now().isoformat()}. Check the device's clock.",
            code="in_future",
        )
    return value


class AnnotationChangeSerializer(serializers.Serializer):
    """An incremental save (PATCH): what changed since ``version``, the version the server acknowledged."""

    # A change is a whole request, not a partial document: ``version`` stays required. The schema's
    # generator sets ``partial`` on every PATCH body (and would list no field as required).
    @property
    def partial(self) -> bool:
        return False

    @partial.setter
    def partial(self, value) -> None:
        pass

    def save_arguments(self) -> dict:
        """Return the validated change as ``annotation_change``'s arguments (but the image and the annotator)."""
        return _change_arguments(self.validated_data)

    version = serializers.IntegerField(
        min_value=0, max_value=2**31 - 1, help_text="The version the change applies to (0: nothing saved yet)."
    )
    remove = serializers.IntegerField(
        min_value=0, max_value=LIMITS.max_strokes, default=0, help_text="Strokes to remove from the end (undo, clear)."
    )
    append = StrokesField(
        default=list,
        help_text=f"Strokes to append, after the removal; their ink at most {LIMITS.max_ink:,} (too_much_ink): "
        "more goes in several changes.",
    )
    label = serializers.CharField(max_length=200, allow_null=True, required=False, help_text="Left out: unchanged.")
    text = serializers.CharField(
        max_length=MAX_TEXT_LENGTH,
        allow_blank=True,
        required=False,
        trim_whitespace=False,
        help_text="Left out: unchanged.",
    )
    status = serializers.ChoiceField(Annotation.Status.choices, required=False, help_text="Left out: unchanged.")
    op = serializers.RegexField(
        r"^[A-Za-z0-9_-]{1,64}$",
        required=False,
        help_text="An id the client gives the change (1 to 64 letters, digits, - or _): a retry of the last change "
        "applied is answered with the stored version, not applied again.",
    )
    started_at = serializers.DateTimeField(required=False, help_text="When the annotator opened the image.")
    active_ms = serializers.IntegerField(min_value=0, max_value=MAX_ACTIVE_MS, required=False)
    client = ClientInfoSerializer(required=False)

    validate_started_at = AnnotationWriteSerializer.validate_started_at

    def validate_append(self, strokes):
        return _ink_checked(strokes, self.context["image"])


def _ink_checked(strokes: list, image: Image) -> list:
    """Return the strokes to append if one save may paint their ink, else raise a ValidationError saying so."""
    ink = strokes_mod.ink(strokes, image.width, image.height)
    if ink > LIMITS.max_ink:
        raise serializers.ValidationError(
            f"these strokes hold {ink:,} units of ink (image rows crossed, summed over their segments); one "
            f"save may paint at most {LIMITS.max_ink:,}. Send them in several saves, each appending some of them.",
            code="too_much_ink",
        )
    return strokes


def _change_arguments(change: dict) -> dict:
    """Return a validated change as ``annotation_change``'s arguments (but the image and the annotator)."""
    from .services import AnnotationChange

    return {
        "change": AnnotationChange(
            remove=change["remove"],
            append=change["append"],
            fields={name: change[name] for name in ("label", "text", "status") if name in change},
            op=change.get("op", ""),
        ),
        "base_version": change["version"],
        "started_at": change.get("started_at"),
        "active_ms": change.get("active_ms"),
        "client": change.get("client"),
    }


def annotation_change_arguments(data, *, image: Image, request) -> dict:
    """Return a PATCH body as ``annotation_change``'s arguments, as AnnotationChangeSerializer validates it.

    Every save of the app is a PATCH, and building the serializer (DRF deep-copies its declared
    fields for every instance) and its per-field machinery cost as much as the rest of a save of
    typed text. A well-formed body is validated here by the declared fields' own ``run_validation``,
    unbound, and the same checks as the serializer's ``validate_<field>`` methods; anything else
    (an unknown key, a form body, any error) goes to the serializer itself, so every error comes
    from it, as before (a test holds the two equal over many bodies).
    """
    change = _plain_change(data, image)
    if change is None:
        serializer = AnnotationChangeSerializer(data=data, context={"image": image, "request": request})
        serializer.is_valid(raise_exception=True)
        change = serializer.validated_data
    return _change_arguments(change)


_CHANGE_FIELDS = AnnotationChangeSerializer._declared_fields
_CLIENT_FIELDS = ClientInfoSerializer._declared_fields
for _field in [*_CHANGE_FIELDS.values(), *_CLIENT_FIELDS.values(), _CLIENT_FIELDS["pointer_types"].child]:
    _field.validators  # noqa: B018  (sets their lazily built list now, not on a first call in two threads at once)


def _plain_change(data, image: Image) -> dict | None:
    """Return the serializer's ``validated_data`` for a well-formed JSON body, or None for the serializer to decide.

    Only reads the declared fields (shared, unbound): ``run_validation`` of a field given a value
    neither binds nor writes it, so threads may share them.
    """
    if type(data) is not dict or not data.keys() <= _CHANGE_FIELDS.keys():
        return None
    change = {}
    try:
        for name, field in _CHANGE_FIELDS.items():
            if name not in data:
                if field.required:
                    return None
                if field.default is not empty:
                    change[name] = field.get_default()  # remove: 0, append: [] (no ink)
                continue
            value = data[name]
            if name == "append":
                if type(value) is not list:
                    return None
                value = _ink_checked(strokes_mod.validate_strokes(value, width=image.width, height=image.height), image)
            elif name == "client":
                value = _plain_client(value)
                if value is None:
                    return None
            else:
                value = field.run_validation(value)
                if name == "started_at":
                    value = _started_at_checked(value)
            change[name] = value
    except (serializers.ValidationError, strokes_mod.StrokesInvalid):
        return None
    return change


def _plain_client(value) -> dict | None:
    """Return ClientInfoSerializer's validated data for a well-formed ``client`` object (in its fields' order), or
    None for the serializer to decide; raise a ValidationError if a field does."""
    if type(value) is not dict or not value.keys() <= _CLIENT_FIELDS.keys():
        return None
    return {name: field.run_validation(value[name]) for name, field in _CLIENT_FIELDS.items() if name in value}


class RevisionSerializer(serializers.ModelSerializer):
    replaced_by_username = serializers.CharField(source="replaced_by.username", read_only=True, default=None)

    class Meta:
        model = AnnotationRevision
        fields = ["id", "version", "label", "text", "status", "reason", "replaced_by_username", "created_at"]


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)


class MeSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField(help_text="annotator, researcher or admin; participant for a study's.")
    is_test = serializers.BooleanField(source="profile.is_test", read_only=True, default=False)
    study = serializers.SerializerMethodField(help_text="A participant's study (its slug); null for everyone else.")

    class Meta:
        model = User
        fields = ["id", "username", "first_name", "last_name", "email", "role", "is_test", "study"]

    def get_role(self, user) -> str | None:
        return user_role(user) or ("participant" if participant_of(user) else None)

    def get_study(self, user) -> str | None:
        participant = participant_of(user)
        return participant.study.slug if participant else None


class TokenSerializer(serializers.Serializer):
    auth_token = serializers.CharField()


class LeaseSerializer(serializers.Serializer):
    expires_at = serializers.DateTimeField(help_text="When the image goes back to the pool if nothing is saved.")
    minutes = serializers.IntegerField(help_text="The dataset's lease length; every save starts it again.")
    resumed = serializers.BooleanField(
        help_text="True when the image was already leased to the annotator: the one they were on (a reload, another "
        "device, after a break), or one leased ahead by an earlier call."
    )


NextSerializer = inline_serializer(
    "NextImage",
    {
        "image": ImageSerializer(allow_null=True),
        "progress": ProgressSerializer(),
        "lease": LeaseSerializer(allow_null=True),
        "ahead": ImageSerializer(
            many=True,
            help_text="Up to `ahead` further images leased to the caller, in queue order (empty unless asked for): "
            "what to work on next while the server cannot be reached.",
        ),
    },
)


class AheadQuerySerializer(serializers.Serializer):
    """The ``ahead`` query parameter of ``next`` and ``skip``."""

    ahead = serializers.IntegerField(
        min_value=0,
        max_value=MAX_AHEAD,
        default=0,
        help_text=f"How many further images to lease ahead and return in `ahead` (0 to {MAX_AHEAD}).",
        error_messages={
            "invalid": f"ahead must be a whole number from 0 to {MAX_AHEAD}.",
            "min_value": f"ahead must be a whole number from 0 to {MAX_AHEAD}.",
            "max_value": f"ahead must be a whole number from 0 to {MAX_AHEAD}.",
            "max_string_length": f"ahead must be a whole number from 0 to {MAX_AHEAD}.",
        },
    )

    @classmethod
    def read(cls, request) -> int:
        """Return the request's ``ahead``, or raise a 400 naming it.

        A valid one is read by the declared field alone (shared, unbound: only read), as for a PATCH
        body (``annotation_change_arguments``): building the serializer cost ~80 µs of every ``next``.
        Anything else goes to the serializer, for its error.
        """
        field = cls._declared_fields["ahead"]
        if "ahead" not in request.query_params:
            return field.default
        ahead = request.query_params["ahead"]
        try:
            return field.run_validation(ahead)
        except serializers.ValidationError:
            body = cls(data={"ahead": ahead})
            body.is_valid(raise_exception=True)
            return body.validated_data["ahead"]


def handout_data(handout, *, progress: dict, dataset: Dataset, request) -> dict:
    """Return the body of ``next`` and ``skip``: the image handed out, its lease and the caller's progress.

    ``progress`` is ``selectors.handout_progress`` of the hand-out. Built directly rather than
    through ``NextSerializer``'s fields (which declares the same shape for the schema): ``next``
    runs between every two images, and building the serializers' 27 fields on every call cost
    more than the queue's queries. ``test_handout_body_is_what_the_serializers_give`` keeps the
    two the same.
    """
    sees_truth = can_read_all(request.user)
    lease = None
    if handout.image is not None:
        lease = {
            "expires_at": _DATETIME.to_representation(handout.assignment.leased_until),
            "minutes": int(dataset.lease_minutes),
            "resumed": bool(handout.resumed),
        }
    return {
        "image": handout_image_data(handout.image, sees_truth=sees_truth) if handout.image else None,
        "progress": {name: field.to_representation(progress[name]) for name, field in _PROGRESS_FIELDS.items()},
        "lease": lease,
        "ahead": [handout_image_data(image, sees_truth=sees_truth) for image in handout.ahead],
    }


def handout_image_data(image: Image, *, sees_truth: bool) -> dict:
    """Return ``ImageSerializer``'s representation of the image (``sees_truth``: the caller reads everything)."""
    return {
        "id": image.pk,
        "dataset": image.dataset_id,
        "sha256": image.sha256,
        "short_id": image.short_id,
        "path": image.path,
        "position": image.position,
        "width": image.width,
        "height": image.height,
        "ground_truth": image.ground_truth if sees_truth else None,
        "metadata": image.metadata if sees_truth else {},
        "file_url": f"/api/images/{image.pk}/file/",
    }


_DATETIME = serializers.DateTimeField()
_PROGRESS_FIELDS = ProgressSerializer().fields  # built once: each field's to_representation is all that is used


class SkipSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=500, help_text='Why the image is skipped, e.g. "too blurry to tell". Shown to researchers.'
    )


class AnnotatorProgressSerializer(ProgressSerializer):
    annotator = serializers.IntegerField()
    username = serializers.CharField()
    is_test = serializers.BooleanField()
    last_active_at = serializers.DateTimeField(allow_null=True)


class DatasetSummarySerializer(serializers.Serializer):
    images = serializers.IntegerField()
    annotators_per_image = serializers.IntegerField(allow_null=True)
    eligible_annotators = serializers.IntegerField(help_text="Non-test annotators who may work on the dataset.")
    annotations_wanted = serializers.IntegerField()
    submitted = serializers.IntegerField()
    in_progress = serializers.IntegerField()
    skipped = serializers.IntegerField()
    images_complete = serializers.IntegerField(help_text="Images with every annotation they need.")
    images_started = serializers.IntegerField()
    annotators_started = serializers.IntegerField()
    active_ms = serializers.IntegerField()


class DatasetProgressSerializer(serializers.Serializer):
    dataset = DatasetSummarySerializer(allow_null=True, help_text="Null for annotators.")
    annotators = AnnotatorProgressSerializer(many=True)
