"""Studies with participants: the study and its protocol, conditions, participants and their trials.

A **Study** is an ordered protocol of **Steps** (consent, instructions, questionnaire, practice,
annotation phases, finish) under **Conditions** (what AI guidance is shown). A **Participant**
arrives by the study's link and gets a pseudonymous user of their own, so their annotations
are ordinary ``Annotation`` rows made through the same queue and saves as everyone's; what
the study adds around each image they see is a **Trial**: which step and place in their
sequence, under which condition, what guidance was shown and toggled, and, for catch and
practice images, whether they got it right.

Imported by ``models`` (Django finds models there); kept apart so each file holds one subject.
"""

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from .models import Annotation, Dataset, Image, new_seed


def new_secret() -> str:
    """Return a study's secret: keys its participants' platform ids and signs its links."""
    return secrets.token_hex(32)


class Study(models.Model):
    """A study: its settings, and the protocol its participants go through (its steps)."""

    class Status(models.TextChoices):
        DRAFT = "draft", "draft (not open yet)"
        OPEN = "open"
        PAUSED = "paused", "paused (no one may enrol; enrolled participants go on)"
        CLOSED = "closed", "closed (no one may enrol or go on)"

    class Withdrawal(models.TextChoices):
        KEEP = "keep", "keep their data, marked withdrawn"
        DELETE = "delete", "delete their data at once"

    class PhaseOrder(models.TextChoices):
        FIXED = "fixed", "fixed (as listed)"
        LATIN_SQUARE = "latin-square", "counterbalanced (a Latin square over participants)"

    class CatchAction(models.TextChoices):
        FLAG = "flag", "flag the participant"
        EXCLUDE = "exclude", "flag and exclude them when they finish"

    slug = models.SlugField(max_length=100, unique=True, help_text="The study link is /s/<slug>/.")
    title = models.CharField(max_length=200, help_text="Shown to participants.")
    description = models.TextField(blank=True, help_text="For researchers; Markdown.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    closes_at = models.DateTimeField(null=True, blank=True, help_text="No one may enrol after this moment.")
    max_participants = models.PositiveIntegerField(
        null=True, blank=True, help_text="Most participants taking part at once (those who dropped out free a place)."
    )
    time_limit_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Time a participant has from enrolling to finishing; empty for no limit."
    )
    withdrawal = models.CharField(
        max_length=16,
        choices=Withdrawal.choices,
        default=Withdrawal.KEEP,
        help_text="What withdrawing does to a participant's data, as the consent text promises.",
    )
    phase_order = models.CharField(max_length=16, choices=PhaseOrder.choices, default=PhaseOrder.FIXED)
    platform = models.JSONField(
        default=dict,
        blank=True,
        help_text="The crowd platform: name, the link's parameter names (participant, study, session), "
        "require_participant, study_id, keep_ids. See the study file's platform.",
    )
    guidance_columns = models.JSONField(
        default=dict, blank=True, help_text="The metadata columns holding the AI's label, confidence and saliency map."
    )
    catch_dataset = models.ForeignKey(
        Dataset, on_delete=models.PROTECT, null=True, blank=True, related_name="catch_studies",
        help_text="Images with a known answer (and optionally a reference mask) inserted among the others.",
    )  # fmt: skip
    catch_threshold = models.FloatField(default=0.75, help_text="Participants whose catch score is below are flagged.")
    catch_min_trials = models.PositiveIntegerField(default=1, help_text="Catch images judged before anyone is flagged.")
    catch_min_iou = models.FloatField(
        null=True, blank=True, help_text="With reference masks: the IoU a catch mask needs to count as right."
    )
    catch_action = models.CharField(max_length=16, choices=CatchAction.choices, default=CatchAction.FLAG)
    seed = models.BigIntegerField(
        default=new_seed, help_text="Seeds every draw: conditions, phase orders, catch slots."
    )
    secret = models.CharField(max_length=64, default=new_secret, editable=False)
    next_number = models.PositiveIntegerField(default=1, editable=False, help_text="The next enrolment number.")
    declined_count = models.PositiveIntegerField(
        default=0, editable=False, help_text="Visitors who declined consent (nothing else is kept of them)."
    )
    deleted_count = models.PositiveIntegerField(
        default=0, editable=False, help_text="Participants whose data was deleted (withdrawn, or on request)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "id"]
        verbose_name_plural = "studies"

    def __str__(self):
        return self.title

    def clean(self):
        if not 0 <= self.catch_threshold <= 1:
            raise ValidationError({"catch_threshold": "must be from 0 to 1."})
        if self.catch_min_iou is not None and not 0 <= self.catch_min_iou <= 1:
            raise ValidationError({"catch_min_iou": "must be from 0 to 1, or empty."})


class Condition(models.Model):
    """What participants see beside each image: no help, the AI's decision, its saliency map, or both."""

    class Placement(models.TextChoices):
        BESIDE = "beside", "beside the image"
        OVER = "over", "over the image"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="conditions")
    position = models.PositiveIntegerField(default=0)
    slug = models.SlugField(max_length=50)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    show_ai_label = models.BooleanField(default=False, help_text="Show the AI's decision (its label column).")
    show_ai_confidence = models.BooleanField(default=False, help_text="Show the AI's confidence with its decision.")
    show_ai_saliency = models.BooleanField(default=False, help_text="Show the AI's saliency map.")
    placement = models.CharField(max_length=16, choices=Placement.choices, default=Placement.BESIDE)
    toggle = models.BooleanField(default=False, help_text="The participant may hide and show the guidance (logged).")
    between = models.BooleanField(
        default=False, help_text="Participants are assigned one of these conditions between subjects, balanced."
    )

    class Meta:
        ordering = ["study", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["study", "slug"], name="condition_unique_slug_per_study")]

    def __str__(self):
        return self.name

    @property
    def shows(self) -> list[str]:
        """Return the guidance this condition shows, as the study file names it."""
        return [
            name
            for name, on in (
                ("ai_label", self.show_ai_label),
                ("ai_confidence", self.show_ai_confidence),
                ("ai_saliency", self.show_ai_saliency),
            )
            if on
        ]


class Step(models.Model):
    """One step of a study's protocol; ``config`` holds what only its kind needs (see ``studyfile``)."""

    class Kind(models.TextChoices):
        CONSENT = "consent"
        INSTRUCTIONS = "instructions"
        QUESTIONNAIRE = "questionnaire"
        PRACTICE = "practice"
        ANNOTATION = "annotation"
        FINISH = "finish"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField(help_text="The step's place in the protocol as written (0 first).")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    title = models.CharField(max_length=200)
    text = models.TextField(blank=True, help_text="Markdown shown with the step (consent, instructions, thank-you).")
    version = models.CharField(max_length=50, blank=True, help_text="The consent text's version, stored on agreeing.")
    dataset = models.ForeignKey(
        Dataset, on_delete=models.PROTECT, null=True, blank=True, related_name="study_steps",
        help_text="Where a practice or annotation step draws its images from.",
    )  # fmt: skip
    condition = models.ForeignKey(
        Condition, on_delete=models.PROTECT, null=True, blank=True, related_name="steps",
        help_text="An annotation step's condition (within subject); empty: the participant's own.",
    )  # fmt: skip
    image_count = models.PositiveIntegerField(
        null=True, blank=True, help_text="Images per participant (practice, annotation), catch images aside."
    )
    image_seconds = models.PositiveIntegerField(null=True, blank=True, help_text="Time limit per image, in seconds.")
    config = models.JSONField(default=dict, blank=True, help_text="The rest of the step, as in the study file.")

    class Meta:
        ordering = ["study", "position"]
        constraints = [models.UniqueConstraint(fields=["study", "position"], name="step_unique_position_per_study")]

    def __str__(self):
        return f"{self.position + 1}. {self.title} ({self.kind})"

    @property
    def has_images(self) -> bool:
        return self.kind in (self.Kind.PRACTICE, self.Kind.ANNOTATION)


class Participant(models.Model):
    """Someone taking part in a study, known by a pseudonym; their work is done as their own user.

    The user has no role and no password: it can sign in only through the study link's session,
    and reach only the participation API (``views.participation``).
    """

    class Status(models.TextChoices):
        ACTIVE = "active", "taking part"
        COMPLETED = "completed"
        WITHDRAWN = "withdrawn"

    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="participants")
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="participant")
    pseudonym = models.CharField(max_length=20, unique=True, help_text="What exports and researchers call them.")
    number = models.PositiveIntegerField(help_text="Enrolment order in the study (1 first); seeds their draws.")
    platform_key = models.CharField(
        max_length=64, null=True, blank=True,
        help_text="SHA-256 of the study's secret and the platform's participant id: one enrolment per id.",
    )  # fmt: skip
    platform_ids = models.JSONField(
        default=dict, blank=True, help_text="The platform's ids from the link (only when the study keeps them)."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    condition = models.ForeignKey(
        Condition, on_delete=models.PROTECT, null=True, blank=True, related_name="participants",
        help_text="Their between-subjects condition.",
    )  # fmt: skip
    order_row = models.PositiveIntegerField(
        null=True, blank=True, help_text="Their row of the study's Latin square of phase orders (counterbalanced)."
    )
    sequence = models.JSONField(
        default=list, help_text="The ids of their steps in their order (phases counterbalanced)."
    )
    design = models.JSONField(
        default=dict, blank=True, help_text="Their draws as made: condition, phase order row, catch slots per step."
    )
    step_index = models.PositiveIntegerField(default=0, help_text="Where they are in their sequence (0 first).")
    consent_version = models.CharField(max_length=50, blank=True)
    consented_at = models.DateTimeField(null=True, blank=True)
    answers = models.JSONField(default=dict, blank=True, help_text="Their questionnaire answers, by question name.")
    step_times = models.JSONField(default=dict, blank=True, help_text="When they finished each step, by step id.")
    completion_code = models.CharField(max_length=40, blank=True, help_text="Issued when they finished.")
    catch_judged = models.PositiveIntegerField(default=0, help_text="Catch images they submitted.")
    catch_passed = models.PositiveIntegerField(default=0, help_text="Catch images they got right.")
    flagged = models.BooleanField(default=False, help_text="Their catch score is under the study's threshold.")
    excluded = models.BooleanField(
        default=False, help_text="Left out of counts, targets and exports; the images they held went back to others."
    )
    is_test = models.BooleanField(default=False, help_text="A researcher trying the study: never counted.")
    enrolled_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["study", "number"]
        constraints = [
            models.UniqueConstraint(fields=["study", "number"], name="participant_unique_number_per_study"),
            models.UniqueConstraint(
                fields=["study", "platform_key"], name="participant_one_per_platform_id",
                condition=models.Q(platform_key__isnull=False),
            ),
        ]  # fmt: skip
        indexes = [models.Index(fields=["study", "status", "condition", "order_row"], name="participant_balance")]

    def __str__(self):
        return self.pseudonym

    @property
    def catch_score(self) -> float | None:
        return self.catch_passed / self.catch_judged if self.catch_judged else None


class RetiredPlatformKey(models.Model):
    """The platform key of a participant whose data was deleted: that platform id may not enrol again.

    Only the key (SHA-256 of the study's secret and the id: not the id) and when; a withdrawal that
    deletes everything still keeps the promise that one platform id takes part once. Refusals of
    consent keep nothing: a visitor who declined may come back and agree.
    """

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="retired_keys")
    key = models.CharField(max_length=64)
    retired_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["study", "retired_at"]
        constraints = [models.UniqueConstraint(fields=["study", "key"], name="retired_platform_key_unique")]

    def __str__(self):
        return f"{self.study}: {self.key[:8]}…"


class Trial(models.Model):
    """One image shown to a participant in a practice or annotation step, and what came of it."""

    class Kind(models.TextChoices):
        PRACTICE = "practice"
        MAIN = "main", "annotation"
        CATCH = "catch"

    class Status(models.TextChoices):
        OPEN = "open", "handed out"
        SUBMITTED = "submitted"
        TIMED_OUT = "timed_out", "time ran out"
        LOST = "lost", "given to others (their lease ran out)"

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="trials")
    step = models.ForeignKey(Step, on_delete=models.PROTECT, related_name="trials")
    position = models.PositiveIntegerField(help_text="Its place in the step's sequence for this participant (1 first).")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    image = models.ForeignKey(Image, on_delete=models.PROTECT, related_name="trials")
    condition = models.ForeignKey(Condition, on_delete=models.PROTECT, null=True, blank=True, related_name="trials")
    guidance = models.JSONField(
        default=dict, blank=True,
        help_text="What the condition showed with this image: ai_label, ai_confidence, saliency, placement, toggle.",
    )  # fmt: skip
    guidance_events = models.JSONField(
        default=list, blank=True, help_text="Every toggle of the guidance: [{t (ms since opened), shown}]."
    )
    annotation = models.ForeignKey(Annotation, on_delete=models.SET_NULL, null=True, blank=True, related_name="trials")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    correct = models.BooleanField(null=True, blank=True, help_text="Practice and catch: the answer was right.")
    iou = models.FloatField(null=True, blank=True, help_text="Practice and catch: IoU with the reference mask.")
    passed = models.BooleanField(null=True, blank=True, help_text="Catch: counted as passed.")
    created_at = models.DateTimeField(auto_now_add=True, help_text="When it was handed out.")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["participant", "step", "position"]
        constraints = [
            models.UniqueConstraint(fields=["participant", "step", "position"], name="trial_unique_position"),
            models.UniqueConstraint(fields=["participant", "image"], name="trial_one_per_image_and_participant"),
        ]
        indexes = [models.Index(fields=["step", "status"], name="trial_step_status")]

    def __str__(self):
        return f"{self.participant} #{self.position} of {self.step}"
