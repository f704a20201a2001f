"""How studies look over the API: a participant's state and trials, and studies for researchers."""

from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from .models import Study, Trial
from .serializers import AnnotationChangeSerializer, AnnotationWriteSerializer

MAX_GUIDANCE_EVENTS = 1000
MAX_EVENT_T = 10 * 365 * 24 * 3600 * 1000


class EnrolSerializer(serializers.Serializer):
    """What the study link carries: its query parameters, as the page received them."""

    params = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=200, trim_whitespace=False),
        required=False,
        default=dict,
        help_text="The link's query parameters, e.g. {PROLIFIC_PID, STUDY_ID, SESSION_ID} or {workerId, assignmentId, "
        "hitId}: the crowd platform's ids.",
    )


class StudyLinkRequestSerializer(serializers.Serializer):
    """A study link to make: for these platform ids, expiring or not (a signed study's links only)."""

    params = serializers.DictField(
        child=serializers.CharField(max_length=128),
        help_text="The platform ids by the study's parameter names, e.g. {PROLIFIC_PID: ..., SESSION_ID: ...}.",
    )
    expires_in_hours = serializers.FloatField(
        required=False, min_value=0.01, max_value=24 * 365, help_text="A signed link is refused after this."
    )


class StudyLinkSerializer(serializers.Serializer):
    link = serializers.CharField(help_text="The path and query of the link (put the site's address before it).")
    signed = serializers.BooleanField()


class StepCompleteSerializer(serializers.Serializer):
    """Completing a step: what the step asks for (consent, questionnaire), nothing for the others."""

    agree = serializers.BooleanField(required=False, help_text="Consent: true to agree, false to decline.")
    version = serializers.CharField(required=False, max_length=50, help_text="Consent: the version agreed to.")
    answers = serializers.DictField(required=False, help_text="Questionnaire: answers by question name.")


PARTICIPANT_STATE = inline_serializer(
    "ParticipantState",
    {
        "study": serializers.DictField(help_text="slug, title, status"),
        "participant": serializers.DictField(
            help_text="pseudonym, status (active, completed, withdrawn), enrolled_at, deadline (null without a "
            "time limit), time_up, withdrawal (keep or delete: what withdrawing does)"
        ),
        "steps": serializers.ListField(
            child=serializers.DictField(), help_text="Their steps in their order: index, kind, title, units."
        ),
        "index": serializers.IntegerField(help_text="The step they are on."),
        "current": serializers.DictField(
            allow_null=True,
            help_text="The step they are on, as their page shows it: kind, title, html (sanitised Markdown), and per "
            "kind version (consent), fields (questionnaire), min_seconds (instructions), or question, choices, "
            "required, images, image_seconds, feedback, guidance (practice and annotation). Null once they finished.",
        ),
        "progress": serializers.DictField(help_text="{done, total} across the whole study, in units."),
        "completion": serializers.DictField(
            allow_null=True, help_text="Once finished: code, redirect (the platform's address, or null), html."
        ),
    },
)


class GuidanceEventSerializer(serializers.Serializer):
    t = serializers.IntegerField(min_value=0, max_value=MAX_EVENT_T, help_text="Ms since the image was opened.")
    shown = serializers.BooleanField(help_text="The guidance was shown (true) or hidden (false).")


class _TrialFieldsSerializer(serializers.Serializer):
    """What a participant's save adds to an annotator's, whole (PUT) or a change (PATCH)."""

    guidance_events = GuidanceEventSerializer(
        many=True,
        required=False,
        max_length=MAX_GUIDANCE_EVENTS,
        help_text="Every toggle of the guidance on this image so far, in order (the whole log; left out: unchanged).",
    )
    timed_out = serializers.BooleanField(
        default=False, help_text="The image's time limit ran out: finish the image with what it holds."
    )


class TrialWriteSerializer(AnnotationWriteSerializer, _TrialFieldsSerializer):
    """A participant's save: the strokes document, the guidance toggles so far, and whether the time ran out."""


class TrialChangeSerializer(AnnotationChangeSerializer, _TrialFieldsSerializer):
    """A participant's incremental save: what changed since ``version``, as an annotator's, and the trial's fields."""


class TrialSerializer(serializers.ModelSerializer):
    """A trial as its participant sees it: the image and the guidance shown (never whether it is a catch image)."""

    practice = serializers.SerializerMethodField()
    image = serializers.SerializerMethodField()
    guidance = serializers.SerializerMethodField()
    step = serializers.IntegerField(source="step_id")

    class Meta:
        model = Trial
        fields = ["id", "step", "position", "practice", "status", "image", "guidance"]

    def get_practice(self, trial) -> bool:
        return trial.kind == Trial.Kind.PRACTICE

    @extend_schema_field(
        inline_serializer(
            "TrialImage",
            {
                "id": serializers.IntegerField(),
                "width": serializers.IntegerField(),
                "height": serializers.IntegerField(),
                "file_url": serializers.CharField(),
            },
        )
    )
    def get_image(self, trial) -> dict:
        image = trial.image
        return {
            "id": image.pk,
            "width": image.width,
            "height": image.height,
            "file_url": f"/api/participation/images/{image.pk}/file",
        }

    @extend_schema_field(serializers.DictField(allow_null=True))
    def get_guidance(self, trial) -> dict | None:
        shown = trial.guidance
        if not shown:
            return None
        guidance = {key: value for key, value in shown.items() if key != "ai_saliency"}
        if shown.get("ai_saliency"):
            guidance["ai_saliency_url"] = f"/api/participation/images/{trial.image_id}/ai-saliency"
        return guidance


TRIALS = inline_serializer(
    "ParticipantTrials",
    {
        "trials": TrialSerializer(many=True, help_text="The image to do now first, then those handed out ahead."),
        "finished": serializers.BooleanField(help_text="The step had nothing more: they moved on (reload the state)."),
        "progress": serializers.DictField(help_text="{done, total} across the whole study."),
    },
)

FEEDBACK = inline_serializer(
    "PracticeFeedback",
    {
        "answer": serializers.CharField(allow_null=True, help_text="The known answer."),
        "your_answer": serializers.CharField(allow_null=True),
        "correct": serializers.BooleanField(allow_null=True),
        "iou": serializers.FloatField(allow_null=True, help_text="Of their mask with the reference mask."),
        "reference_mask_url": serializers.CharField(allow_null=True),
    },
)


class StudySerializer(serializers.ModelSerializer):
    """A study for researchers: its settings, counts and link."""

    link = serializers.SerializerMethodField(help_text="The study link to give participants (add the platform's ids).")
    participants = serializers.IntegerField(read_only=True, source="participant_count")

    class Meta:
        model = Study
        fields = [
            "id",
            "slug",
            "title",
            "description",
            "status",
            "closes_at",
            "max_participants",
            "time_limit_minutes",
            "withdrawal",
            "phase_order",
            "participants",
            "declined_count",
            "deleted_count",
            "link",
            "created_at",
            "updated_at",
        ]

    def get_link(self, study) -> str:
        return f"/s/{study.slug}/"
