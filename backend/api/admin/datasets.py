"""Datasets: their settings, importing one (an uploaded zip or a folder on the server), and the queue's actions."""

from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils.formats import date_format
from django.utils.timezone import localtime

from .. import importing, selectors, services
from ..files import dataset_upload_root, uses_object_storage
from ..models import Dataset, Role
from ..upload_handlers import upload_failure
from .display import admin_page, sentence


def _parse_choices(text: str) -> list[str]:
    return [choice.strip() for choice in text.split(",") if choice.strip()]


class DatasetForm(forms.ModelForm):
    choices_text = forms.CharField(
        label="Choices",
        required=False,
        help_text="The answers to the question, comma-separated, e.g. real, fake (at most 9: annotators press 1-9).",
    )

    class Meta:
        model = Dataset
        exclude = ["choices"]
        widgets = {"annotators": FilteredSelectMultiple("annotators", is_stacked=False)}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["choices_text"].initial = ", ".join(self.instance.choices)
        if "annotators" in self.fields:
            self.fields["annotators"].queryset = User.objects.filter(groups__name=Role.ANNOTATOR).order_by("username")

    def clean(self):
        cleaned = super().clean()
        self.instance.choices = _parse_choices(cleaned.get("choices_text", ""))  # Dataset.clean() checks them
        return cleaned

    def _update_errors(self, errors):
        # The model reports its choices under "choices"; this form edits them as "choices_text".
        if hasattr(errors, "error_dict") and "choices" in errors.error_dict:
            errors.error_dict["choices_text"] = errors.error_dict.pop("choices")
        super()._update_errors(errors)


class DatasetImportForm(forms.Form):
    """Create (or add images to) a dataset from an uploaded zip or a folder on the server."""

    archive = forms.FileField(
        required=False,
        help_text="A zip of the dataset: metadata.csv and images/, at its top or in one top folder.",
    )
    folder = forms.CharField(
        required=False,
        help_text=f"Or a folder on the server below DATASET_ROOT ({settings.DATASET_ROOT}), e.g. irises-2024.",
    )
    name = forms.CharField(max_length=200, help_text="Shown to annotators.")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    question = forms.CharField(required=False, max_length=500, help_text='e.g. "Is this image real or fake?"')
    choices = forms.CharField(required=False, help_text="Comma-separated answers, e.g. real, fake.")
    require_choice = forms.BooleanField(required=False, initial=True)
    require_mask = forms.BooleanField(required=False, initial=True)
    require_text = forms.BooleanField(required=False)
    annotators_per_image = forms.IntegerField(
        required=False, min_value=1, help_text="Distinct annotators wanted per image; empty: every annotator."
    )
    images_per_annotator = forms.IntegerField(required=False, min_value=1, help_text="A quota; empty: no limit.")
    order = forms.ChoiceField(choices=Dataset.Order.choices, initial=Dataset.Order.RANDOM)
    access = forms.ChoiceField(choices=Dataset.Access.choices, initial=Dataset.Access.ALL)
    lease_minutes = forms.IntegerField(min_value=1, max_value=7 * 24 * 60, initial=30)

    def __init__(self, *args, upload_failure: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.upload_failure = upload_failure  # the archive could not be received (upload_handlers)

    def clean(self):
        cleaned = super().clean()
        if self.upload_failure:
            raise ValidationError(sentence(self.upload_failure))
        if bool(cleaned.get("archive")) == bool(cleaned.get("folder", "").strip()):
            raise ValidationError("Upload a zip archive or name a folder on the server (one of the two).")
        if cleaned.get("require_choice") and not _parse_choices(cleaned.get("choices", "")):
            raise ValidationError("A choice cannot be required when there are no choices.")
        return cleaned

    def options(self) -> dict:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "description": data["description"],
            "question": data["question"],
            "choices": _parse_choices(data["choices"]),
            "require_choice": data["require_choice"],
            "require_mask": data["require_mask"],
            "require_text": data["require_text"],
            "annotators_per_image": data["annotators_per_image"],
            "images_per_annotator": data["images_per_annotator"],
            "order": data["order"],
            "access": data["access"],
            "lease_minutes": data["lease_minutes"],
        }


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    form = DatasetForm
    # Short headings: the list fits a 1366 px screen beside its filters.
    list_display = [
        "name",
        "images",
        "target",
        "access",
        "order",
        "images_complete",
        "annotations_submitted",
        "annotators_started",
        "updated",
    ]
    list_filter = ["access", "order"]
    search_fields = ["name", "slug"]
    readonly_fields = ["root", "image_count", "seed", "created_at", "updated_at"]
    prepopulated_fields = {"slug": ["name"]}
    change_list_template = "admin/api/dataset/eyetagger_change_list.html"
    change_form_template = "admin/api/dataset/eyetagger_change_form.html"
    actions = ["recount", "release_expired"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "description", "root", "image_count"]}),
        ("Question", {"fields": ["question", "choices_text", "require_choice", "require_mask", "require_text"]}),
        (
            "Assignment",
            {
                "fields": [
                    "annotators_per_image",
                    "images_per_annotator",
                    "access",
                    "annotators",
                    "order",
                    "lease_minutes",
                ]
            },
        ),
        ("Record", {"fields": ["seed", "created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    def get_queryset(self, request):
        return selectors.dataset_figures(datasets=super().get_queryset(request))

    @admin.display(description="images", ordering="image_count")
    def images(self, dataset):
        return dataset.image_count

    @admin.display(description="target / image", ordering="annotators_per_image")
    def target(self, dataset):
        return dataset.annotators_per_image or "everyone"

    @admin.display(description="images complete", ordering="complete")
    def images_complete(self, dataset):
        if dataset.annotators_per_image is None:
            return "—"
        return f"{dataset.complete} / {dataset.image_count}"

    @admin.display(description="annotations submitted", ordering="submitted")
    def annotations_submitted(self, dataset):
        if dataset.annotators_per_image is None:
            return dataset.submitted
        return f"{dataset.submitted} / {dataset.image_count * dataset.annotators_per_image}"

    @admin.display(description="annotators", ordering="started")
    def annotators_started(self, dataset):
        return dataset.started

    # Fixed width: Django's own format ("Sept. 28, 2026, 10:41 p.m.") grows with the month and the
    # hour and pushed this last column past a 1366 px screen in the evening.
    @admin.display(description="updated", ordering="updated_at")
    def updated(self, dataset):
        return date_format(localtime(dataset.updated_at), "Y-m-d H:i")

    def add_view(self, request, form_url="", extra_context=None):
        # A dataset is made by importing its images: "Add" leads to the import page.
        return HttpResponseRedirect(reverse("admin:api_dataset_import"))

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # New settings (a target, a quota, who may work) can make images available again.
        services.queue.pool_changed(dataset=form.instance)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        dataset = self.get_object(request, object_id)
        extra = {}
        if dataset is not None:
            extra["progress"] = selectors.dataset_progress(dataset=dataset, user=request.user)
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    @admin.action(description="Recount the selected datasets' counters from their assignments")
    def recount(self, request, queryset):
        for dataset in queryset:
            services.queue_recount(dataset=dataset)
        self.message_user(request, f"Recounted {queryset.count()} datasets.")

    @admin.action(description="Release the selected datasets' expired leases now")
    def release_expired(self, request, queryset):
        released = sum(services.release_expired_leases(dataset=dataset, limit=100_000) for dataset in queryset)
        self.message_user(request, f"Released {released} expired leases.")

    def get_urls(self):
        view = self.admin_site.admin_view(self.import_view)
        return [path("import/", view, name="api_dataset_import"), *super().get_urls()]

    def import_view(self, request):
        """Create a dataset from an uploaded zip or a folder on the server, then show the import report."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = DatasetImportForm(request.POST or None, request.FILES or None, upload_failure=upload_failure(request))
        if request.method == "POST" and form.is_valid():
            try:
                if form.cleaned_data["archive"]:
                    report = services.dataset_import_zip(archive=form.cleaned_data["archive"], **form.options())
                else:
                    folder = Path(settings.DATASET_ROOT) / form.cleaned_data["folder"].strip().strip("/")
                    report = services.dataset_import(folder=folder, **form.options())
            except (importing.DatasetFolderInvalid, services.DatasetUploadFailed) as error:
                form.add_error(None, sentence(str(error)))
            except ValidationError as error:
                for message in error.messages:
                    form.add_error(None, message)
            except OSError as error:  # a folder on the server that cannot be read (permissions, a failing disk)
                where = f" ({error.filename})" if error.filename else ""
                form.add_error(None, f"The server could not read the folder: {error.strerror or error}{where}.")
            else:
                return admin_page(
                    self,
                    request,
                    "admin/api/dataset/import_report.html",
                    title=f"Imported {report.dataset.name}",
                    report=report,
                    sections=list(report.sections()),
                    dataset_url=reverse("admin:api_dataset_change", args=[report.dataset.pk]),
                )
        return admin_page(
            self,
            request,
            "admin/api/dataset/import.html",
            title="Import a dataset",
            form=form,
            dataset_root=settings.DATASET_ROOT,
            upload_root=dataset_upload_root(),
            object_storage=uses_object_storage(),
            max_upload_mb=settings.DATASET_UPLOAD_MAX_BYTES // 1024 // 1024,
        )
