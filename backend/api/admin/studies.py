"""Studies: their settings, their protocol edited as a study file, opening and closing them, and their participants.

A study's protocol (steps, conditions, catch images) is edited as its study file, here or in a
text editor, and goes through ``services.study_import`` like the command's: one set of checks,
every problem named by its path. Participants are data: read here, excluded, or deleted on
request through ``services`` (never Django's own delete, which would leave the queue's counts
wrong).
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html

from .. import services, studyfile
from ..models import Condition, Participant, Step, Study, Trial
from ..selectors.studies import study_file
from .display import admin_page


class StudyFileForm(forms.Form):
    """A study file to import: pasted or uploaded."""

    text = forms.CharField(
        label="Study file",
        required=False,
        widget=forms.Textarea(attrs={"rows": 30, "cols": 100, "spellcheck": "false", "style": "font-family:monospace"}),
        help_text="YAML or JSON, as docs/examples/iris-saliency-study.yaml.",
    )
    upload = forms.FileField(label="or upload it", required=False)

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("upload")
        if upload is not None:
            if upload.size > studyfile.MAX_FILE_BYTES:
                raise ValidationError(f"A study file may have at most {studyfile.MAX_FILE_BYTES} bytes.")
            cleaned["text"] = upload.read()
        if not cleaned.get("text"):
            raise ValidationError("Paste a study file, or upload one.")
        return cleaned


class ConditionInline(admin.TabularInline):
    model = Condition
    fields = ["position", "slug", "name", "show_ai_label", "show_ai_confidence", "show_ai_saliency", "placement",
              "toggle", "between"]  # fmt: skip
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False


class StepInline(admin.TabularInline):
    model = Step
    fields = ["position", "kind", "title", "version", "dataset", "images_from", "condition", "image_count",
              "per_condition", "image_seconds"]  # fmt: skip
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="images from")
    def images_from(self, step):
        """Say which of the dataset's images the step hands out: all, or its subset (as the study file gives it)."""
        subset = step.config.get("subset")
        if not step.has_images or step.kind == Step.Kind.PRACTICE:
            return "–" if not step.has_images else "the images named"
        if not subset:
            return "the whole dataset"
        if subset.get("column"):
            return f"{subset['column']} in {', '.join(subset['values'])}"[:200]
        names = subset["images"]
        return f"{len(names)} named images ({', '.join(names[:3])}{', ...' if len(names) > 3 else ''})"

    @admin.display(description="per condition")
    def per_condition(self, step):
        target = step.config.get("per_condition")
        return "–" if target is None else f"{target} annotations per image under each condition"


@admin.register(Study)
class StudyAdmin(admin.ModelAdmin):
    change_list_template = "admin/api/study/eyetagger_change_list.html"
    list_display = ["title", "slug", "status", "participant_count", "completed_count", "declined_count", "link"]
    list_filter = ["status"]
    search_fields = ["title", "slug"]
    inlines = [ConditionInline, StepInline]
    actions = ["open_studies", "pause_studies", "close_studies"]
    fieldsets = [
        (None, {"fields": ["title", "slug", "description", "status", "closes_at", "max_participants", "link"]}),
        (
            "Protocol (edit it as a study file)",
            {
                "fields": [
                    "edit_file",
                    "time_limit_minutes",
                    "withdrawal",
                    "phase_order",
                    "platform",
                    "signing_key",
                    "seed",
                ],  # fmt: skip
                "description": "What participants go through changes only through the study file, and not at all "
                "once someone has enrolled (import it under a new slug to run a changed study).",
            },
        ),
        (
            "Catch images",
            {"fields": ["catch_dataset", "catch_threshold", "catch_min_trials", "catch_min_iou", "catch_action"]},
        ),  # fmt: skip
        ("Counts", {"fields": ["participant_count", "completed_count", "declined_count", "deleted_count"]}),
    ]
    readonly_fields = [
        "slug", "link", "edit_file", "time_limit_minutes", "withdrawal", "phase_order", "platform", "signing_key",
        "seed",
        "catch_dataset", "catch_threshold", "catch_min_trials", "catch_min_iou", "catch_action",
        "participant_count", "completed_count", "declined_count", "deleted_count",
    ]  # fmt: skip

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("catch_dataset")
            .annotate(
                participant_total=Count("participants", distinct=True),
                completed_total=Count("participants", filter=Q(participants__status="completed"), distinct=True),
            )
        )

    def has_add_permission(self, request):
        return False  # a study is made from a study file: "Import a study file"

    @admin.display(description="participants", ordering="participant_total")
    def participant_count(self, study):
        return study.participant_total

    @admin.display(description="completed", ordering="completed_total")
    def completed_count(self, study):
        return study.completed_total

    @admin.display(description="study link")
    def link(self, study):
        return format_html('<a href="/s/{}/" target="_blank" rel="noopener">/s/{}/</a>', study.slug, study.slug)

    @admin.display(description="link signing key")
    def signing_key(self, study):
        """Show the key a signed study's links are signed with, for the system that makes them (docs/studies.md)."""
        if not (study.platform or {}).get("signed"):
            return "– (the study's links are not signed: platform.signed in its study file)"
        return format_html(
            "<code>{}</code><br>HMAC-SHA256 of the link's ids; or <code>manage.py study_link {} NAME=VALUE</code>",
            study.secret,
            study.slug,
        )

    @admin.display(description="study file")
    def edit_file(self, study):
        return format_html(
            '<a href="{}">Edit as a study file</a> · <a href="{}">Download it</a>',
            reverse("admin:api_study_edit_file", args=[study.pk]),
            reverse("admin:api_study_download", args=[study.pk]),
        )

    def _set_status(self, request, queryset, status):
        for study in queryset:
            services.study_set_status(study=study, status=status)
        self.message_user(request, f"{queryset.count()} studies are {status} now.")

    @admin.action(description="Open the selected studies")
    def open_studies(self, request, queryset):
        self._set_status(request, queryset, Study.Status.OPEN)

    @admin.action(description="Pause the selected studies (no one new; those enrolled go on)")
    def pause_studies(self, request, queryset):
        self._set_status(request, queryset, Study.Status.PAUSED)

    @admin.action(description="Close the selected studies (no one new, no one goes on)")
    def close_studies(self, request, queryset):
        self._set_status(request, queryset, Study.Status.CLOSED)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("import/", view(self.import_view), name="api_study_import"),
            path("<int:pk>/study-file/", view(self.edit_file_view), name="api_study_edit_file"),
            path("<int:pk>/download/", view(self.download_view), name="api_study_download"),
            *super().get_urls(),
        ]

    def _import(self, request, form, *, title, study=None):
        """Show the study file form; on a valid one, import it (create or update) and go to the study."""
        if request.method == "POST" and form.is_valid():
            try:
                report = services.study_import(text=form.cleaned_data["text"])
            except ValidationError as error:
                for message in error.messages:
                    form.add_error(None, message)
            else:
                done = "Created" if report.created else "Updated"
                changes = f": {', '.join(report.changed)}" if report.changed else " (nothing changed)"
                self.message_user(request, f"{done} the study {report.study.slug}{changes}.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:api_study_change", args=[report.study.pk]))
        return admin_page(self, request, "admin/api/study/study_file.html", title=title, form=form, study=study)

    def import_view(self, request):
        if not self.has_change_permission(request):
            raise PermissionDenied
        form = StudyFileForm(request.POST or None, request.FILES or None)
        return self._import(request, form, title="Import a study file")

    def edit_file_view(self, request, pk):
        study = self.get_object(request, str(pk))
        if study is None or not self.has_change_permission(request, study):
            raise PermissionDenied
        initial = {"text": studyfile.write_study(study_file(study))}
        form = StudyFileForm(request.POST or None, request.FILES or None, initial=initial)
        return self._import(request, form, title=f"The study file of {study.slug}", study=study)

    def download_view(self, request, pk):
        study = self.get_object(request, str(pk))
        if study is None:
            raise PermissionDenied
        response = HttpResponse(studyfile.write_study(study_file(study)), content_type="application/yaml")
        response["Content-Disposition"] = f'attachment; filename="{study.slug}.yaml"'
        return response


class TrialInline(admin.TabularInline):
    model = Trial
    fields = ["step", "position", "kind", "image", "condition", "status", "correct", "iou", "passed", "finished_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("step", "image", "condition")


class CatchFlagFilter(admin.SimpleListFilter):
    title = "catch images"
    parameter_name = "catch"

    def lookups(self, request, model_admin):
        return [("flagged", "flagged"), ("excluded", "excluded")]

    def queryset(self, request, queryset):
        if self.value() in ("flagged", "excluded"):
            return queryset.filter(**{self.value(): True})
        return queryset


@admin.register(Participant)
class ParticipantAdmin(admin.ModelAdmin):
    list_display = ["pseudonym", "study", "number", "status", "condition", "step_reached", "catch_score_shown",
                    "flagged", "excluded", "enrolled_at", "completed_at"]  # fmt: skip
    list_filter = ["status", ("study", admin.RelatedOnlyFieldListFilter), "condition", CatchFlagFilter]
    list_select_related = ["study", "condition"]
    search_fields = ["pseudonym", "completion_code"]
    inlines = [TrialInline]
    actions = ["exclude_participants", "include_participants", "delete_data"]
    readonly_fields = [f.name for f in Participant._meta.fields if f.name != "user"]
    exclude = ["user"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # deleting goes through "delete_data", which keeps the queue's counts right

    @admin.display(description="step")
    def step_reached(self, participant):
        return f"{min(participant.step_index + 1, len(participant.sequence))} of {len(participant.sequence)}"

    @admin.display(description="catch score")
    def catch_score_shown(self, participant):
        score = participant.catch_score
        return "–" if score is None else f"{participant.catch_passed}/{participant.catch_judged}"

    @admin.action(description="Exclude the selected participants (their work leaves counts and exports)")
    def exclude_participants(self, request, queryset):
        for participant in queryset:
            services.participant_set_excluded(participant_id=participant.pk, excluded=True)
        self.message_user(request, f"Excluded {queryset.count()} participants; the images they held went to others.")

    @admin.action(description="Take the selected participants back in (no longer excluded)")
    def include_participants(self, request, queryset):
        for participant in queryset:
            services.participant_set_excluded(participant_id=participant.pk, excluded=False)
        self.message_user(request, f"{queryset.count()} participants count again.")

    @admin.action(description="Delete the data of the selected participants (on their request)")
    def delete_data(self, request, queryset):
        if request.POST.get("confirmed") != "yes":
            return admin_page(
                self,
                request,
                "admin/api/participant/delete_data.html",
                title="Delete these participants' data?",
                participants=list(queryset),
                action_checkbox_name=admin.helpers.ACTION_CHECKBOX_NAME,
            )
        count = 0
        for participant in queryset:
            services.participant_delete(participant_id=participant.pk)
            count += 1
        self.message_user(request, f"Deleted the data of {count} participants.", messages.SUCCESS)
        return None
