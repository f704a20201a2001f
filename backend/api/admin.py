"""Django admin at /api/admin/: run a study — accounts and roles, datasets and their import, the queue's
assignments and progress, images, annotations with their masks, and their revision history.

Every write goes through ``services`` (the same code as the API and the commands), and every list
selects its related rows up front: the query count of a page does not grow with its rows.
"""

import base64
import csv
from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, IntegerField, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.cache import patch_cache_control
from django.utils.html import format_html
from rest_framework.exceptions import NotFound

from . import accounts, admin_original, importing, selectors, services, strokes, thumbnails
from .exporting import spreadsheet_safe
from .files import ImageStoreUnavailable, dataset_upload_root, image_read, uses_object_storage
from .models import Annotation, AnnotationRevision, AnnotatorProgress, Assignment, Dataset, Image, Profile, Role
from .permissions import user_role
from .upload_handlers import upload_failure

THUMBNAIL = 120  # pixels, in lists
PREVIEW = 480  # pixels, on a change page


def _picture_response(request, *, etag: str, content_type: str, draw) -> HttpResponse:
    """Return the picture ``draw()`` makes, cacheable privately (biometric data) and revalidated by its ETag.

    ``draw`` returns the picture's bytes and whether it shows the image's file: a placeholder
    (file missing, store not answering) is never cached, since the file may be back soon. A
    revalidation is answered without reading the file.
    """
    etag = f'"{etag}"'
    if etag in request.headers.get("If-None-Match", ""):
        response = HttpResponse(status=304)
    else:
        content, real = draw()
        response = HttpResponse(content, content_type=content_type)
        if not real:
            patch_cache_control(response, no_store=True)
            return response
    response["ETag"] = etag
    patch_cache_control(response, private=True, max_age=3600)
    return response


def _image_content(image: Image) -> tuple[bytes | None, str]:
    """Return the bytes of the image's file wherever it is stored, or None and why, for a placeholder to say."""
    try:
        return image_read(image), ""
    except ImageStoreUnavailable:  # logged by image_read; admin pages stay usable
        return None, "store not answering"
    except NotFound:
        return None, "missing"


def _overlay_response(request, image: Image, *, key: str, mask) -> HttpResponse:
    """Return the image with the boolean array ``mask()`` makes drawn over it, at the size the request asks.

    ``key`` names the mask's content (an annotation's version, a revision): the ETag is the key and the size.
    """
    size = _size_param(request)

    def draw():
        content, absent = _image_content(image)
        return thumbnails.mask_overlay(content, mask(), size, absent=absent), content is not None

    return _picture_response(request, etag=f"{key}-{size}", content_type="image/png", draw=draw)


def _thumbnail_tag(url: str, size: int, alt: str):
    return format_html(
        '<img src="{}" alt="{}" style="max-width:{}px;max-height:{}px" loading="lazy">', url, alt, size, size
    )


def _sentence(message: str) -> str:
    """Return a service's message ("the archive is refused...") as a sentence for a form's errors."""
    return message[:1].upper() + message[1:]


def _duration(ms: int) -> str:
    seconds = round((ms or 0) / 1000)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h {rest // 60:02d}m" if hours else f"{rest // 60}m {rest % 60:02d}s"


# --- Users ------------------------------------------------------------------------------------


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False
    fields = ["is_test"]
    verbose_name_plural = "EyeTagger profile"


class RoleFilter(admin.SimpleListFilter):
    title = "role"
    parameter_name = "role"

    def lookups(self, request, model_admin):
        return [(role.value, role.value) for role in Role] + [("none", "no role")]

    def queryset(self, request, queryset):
        if self.value() == Role.ADMIN:
            return queryset.filter(is_staff=True)
        if self.value() in (Role.ANNOTATOR, Role.RESEARCHER):
            return queryset.filter(is_staff=False, groups__name=self.value())
        if self.value() == "none":
            return queryset.filter(is_staff=False).exclude(groups__name__in=[Role.ANNOTATOR, Role.RESEARCHER])
        return queryset


class TestUserFilter(admin.SimpleListFilter):
    """Test users or real ones; ``field`` is the path to the user."""

    title = "test user"
    parameter_name = "test_user"
    field = "profile__is_test"

    def lookups(self, request, model_admin):
        return [("yes", "test users"), ("no", "real users")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(**{self.field: self.value() == "yes"})
        return queryset


class AnnotatorTestFilter(TestUserFilter):
    field = "annotator__profile__is_test"


class AccountsCsvForm(forms.Form):
    file = forms.FileField(
        required=False,
        help_text="A CSV file with one account per line: username,email,password. The header row is optional; "
        "leave the password empty to have one generated.",
    )
    text = forms.CharField(
        required=False,
        label="or paste the lines",
        widget=forms.Textarea(
            attrs={"rows": 8, "cols": 70, "placeholder": "username,email,password\nalice,alice@lab.org,\n"}
        ),
    )
    is_test = forms.BooleanField(
        required=False, label="Test users", help_text="Their work never counts towards targets, progress or exports."
    )
    datasets = forms.ModelMultipleChoiceField(
        queryset=Dataset.objects.filter(access=Dataset.Access.CHOSEN),
        required=False,
        widget=FilteredSelectMultiple("datasets", is_stacked=False),
        help_text="Datasets open to chosen annotators that the new accounts may work on.",
    )

    MAX_BYTES = 5 * 1024 * 1024

    def __init__(self, *args, upload_failure: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.upload_failure = upload_failure  # the file could not be received (upload_handlers)

    def clean(self):
        cleaned = super().clean()
        if self.upload_failure:
            raise ValidationError(_sentence(self.upload_failure))
        upload, text = cleaned.get("file"), cleaned.get("text", "")
        if upload is None and not text.strip():
            raise ValidationError("Choose a CSV file or paste the lines.")
        if upload is not None and text.strip():
            raise ValidationError("Choose a CSV file or paste the lines, not both.")
        if upload is not None:
            if upload.size > self.MAX_BYTES:
                raise ValidationError(f"The file is larger than {self.MAX_BYTES // 1024 // 1024} MB.")
            try:
                text = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                raise ValidationError("The file is not UTF-8 text; save it as CSV (UTF-8).") from None
        cleaned["csv_text"] = text
        return cleaned


ROLE_CHOICES = [
    (Role.ANNOTATOR.value, "annotator: draws on the datasets open to them"),
    (Role.RESEARCHER.value, "researcher: reads everyone's work, exports"),
    (Role.ADMIN.value, "admin (staff): manages EyeTagger here, may annotate"),
    ("", "no role: may sign in, nothing more"),
]
_ROLE_GROUPS = [Role.ANNOTATOR, Role.RESEARCHER]


class _RoleForm(forms.ModelForm):
    """A user's role as one choice; saving it sets their group and staff flag (``services.user_set_role``)."""

    role = forms.ChoiceField(
        choices=ROLE_CHOICES,
        required=False,
        help_text="Sets the user's group (annotator, researcher) or staff flag (admin); one role per user.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["role"].initial = _stored_role(self.instance) or ""
        if "groups" in self.fields:  # other groups than the roles' (say, for admin permissions) stay editable
            self.fields["groups"].queryset = self.fields["groups"].queryset.exclude(name__in=_ROLE_GROUPS)
            self.fields["groups"].label = "Other groups"
            self.fields["groups"].help_text = "Groups for Django permissions; the role above sets the role's group."


def _stored_role(user: User) -> Role | None:
    """Return the role the user's staff flag and groups give, active or not (``user_role`` says None when inactive)."""
    if user.is_staff:
        return Role.ADMIN
    names = {group.name for group in user.groups.all()}
    return next((role for role in (Role.RESEARCHER, Role.ANNOTATOR) if role in names), None)


class UserRoleChangeForm(_RoleForm, UserChangeForm):
    pass


class UserRoleCreationForm(_RoleForm, AdminUserCreationForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].initial = Role.ANNOTATOR.value


admin.site.unregister(User)


@admin.register(User)
class EyeTaggerUserAdmin(UserAdmin):
    form = UserRoleChangeForm
    add_form = UserRoleCreationForm
    fieldsets = [
        (None, {"fields": ["username", "password"]}),
        ("Role in EyeTagger", {"fields": ["role"]}),
        ("Personal info", {"fields": ["first_name", "last_name", "email"]}),
        ("Permissions", {"fields": ["is_active", "is_superuser", "groups", "user_permissions"]}),
        ("Important dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["username", "usable_password", "password1", "password2", "role"]}),
    ]
    inlines = [ProfileInline]
    list_display = ["username", "email", "role", "is_test", "is_active", "last_login", "date_joined"]
    list_filter = [RoleFilter, TestUserFilter, "is_active", "is_superuser"]
    change_list_template = "admin/auth/user/eyetagger_change_list.html"
    actions = ["make_test_users", "make_real_users"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("profile").prefetch_related("groups")

    @admin.display(description="role")
    def role(self, user):
        role = _stored_role(user)  # groups prefetched
        return role.value if role else "—"

    @admin.display(boolean=True, description="test user")
    def is_test(self, user):
        return getattr(getattr(user, "profile", None), "is_test", False)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)  # "Other groups" replace the user's groups
        # Then the role, through the service: its group, or the staff flag.
        if "role" in form.cleaned_data:
            role = form.cleaned_data["role"]
            services.user_set_role(user=form.instance, role=Role(role) if role else None)

    def save_formset(self, request, form, formset, change):
        if formset.model is not Profile:
            return super().save_formset(request, form, formset, change)
        # Through the service: a changed test flag recounts the targets of the user's datasets.
        changed = []
        for profile_form in formset.forms:
            if profile_form.has_changed() and "is_test" in profile_form.changed_data:
                services.user_set_test(user=form.instance, is_test=profile_form.cleaned_data["is_test"])
                changed.append((form.instance.profile, ["is_test"]))
        Profile.objects.get_or_create(user=form.instance)
        # What formset.save() would have recorded: admin's history message reads it.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], changed, []

    @admin.action(description="Make the selected users test users (their work stops counting)")
    def make_test_users(self, request, queryset):
        for user in queryset:
            services.user_set_test(user=user, is_test=True)
        self.message_user(request, f"{queryset.count()} users are now test users; the targets were recounted.")

    @admin.action(description="Make the selected users real users (their work counts)")
    def make_real_users(self, request, queryset):
        for user in queryset:
            services.user_set_test(user=user, is_test=False)
        self.message_user(request, f"{queryset.count()} users' work now counts; the targets were recounted.")

    def get_urls(self):
        view = self.admin_site.admin_view(self.create_annotators_view)
        return [path("create-annotators/", view, name="auth_user_create_annotators"), *super().get_urls()]

    def create_annotators_view(self, request):
        """Create many annotator accounts from a CSV; show the generated passwords once, with a download."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = AccountsCsvForm(request.POST or None, request.FILES or None, upload_failure=upload_failure(request))
        if request.method == "POST" and form.is_valid():
            try:
                created = services.users_create_from_csv(
                    csv_text=form.cleaned_data["csv_text"],
                    is_test=form.cleaned_data["is_test"],
                    datasets=form.cleaned_data["datasets"],
                )
            except ValidationError as error:
                for message in error.messages:
                    form.add_error(None, message)
            else:
                sheet = accounts.accounts_csv(created).encode()
                context = {
                    **self.admin_site.each_context(request),
                    "title": f"{len(created)} annotator accounts created",
                    "opts": self.model._meta,
                    "accounts": created,
                    "download": "data:text/csv;charset=utf-8;base64," + base64.b64encode(sheet).decode(),
                    "is_test": form.cleaned_data["is_test"],
                }
                return TemplateResponse(request, "admin/auth/user/accounts_created.html", context)
        context = {
            **self.admin_site.each_context(request),
            "title": "Create annotator accounts from a CSV",
            "opts": self.model._meta,
            "form": form,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/auth/user/create_annotators.html", context)


# --- Datasets ---------------------------------------------------------------------------------


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
            raise ValidationError(_sentence(self.upload_failure))
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
    list_display = [
        "name",
        "image_count",
        "annotators_per_image",
        "access",
        "order",
        "images_complete",
        "annotations_submitted",
        "annotators_started",
        "updated_at",
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
        images = Image.objects.filter(dataset=OuterRef("pk")).order_by().values("dataset")
        complete = images.filter(submitted_count__gte=OuterRef("annotators_per_image"))
        started = AnnotatorProgress.objects.filter(dataset=OuterRef("pk")).order_by().values("dataset")
        return (
            super()
            .get_queryset(request)
            .annotate(
                complete=Coalesce(
                    Subquery(complete.annotate(n=Count("pk")).values("n"), output_field=IntegerField()), 0
                ),
                submitted=Coalesce(
                    Subquery(images.annotate(n=Sum("submitted_count")).values("n"), output_field=IntegerField()), 0
                ),
                started=Coalesce(Subquery(started.annotate(n=Count("pk")).values("n"), output_field=IntegerField()), 0),
            )
        )

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
                form.add_error(None, _sentence(str(error)))
            except ValidationError as error:
                for message in error.messages:
                    form.add_error(None, message)
            except OSError as error:  # a folder on the server that cannot be read (permissions, a failing disk)
                where = f" ({error.filename})" if error.filename else ""
                form.add_error(None, f"The server could not read the folder: {error.strerror or error}{where}.")
            else:
                context = {
                    **self.admin_site.each_context(request),
                    "title": f"Imported {report.dataset.name}",
                    "opts": self.model._meta,
                    "report": report,
                    "sections": [(title, items) for title, items in report.sections()],
                    "dataset_url": reverse("admin:api_dataset_change", args=[report.dataset.pk]),
                }
                return TemplateResponse(request, "admin/api/dataset/import_report.html", context)
        context = {
            **self.admin_site.each_context(request),
            "title": "Import a dataset",
            "opts": self.model._meta,
            "form": form,
            "dataset_root": settings.DATASET_ROOT,
            "upload_root": dataset_upload_root(),
            "object_storage": uses_object_storage(),
            "max_upload_mb": settings.DATASET_UPLOAD_MAX_BYTES // 1024 // 1024,
        }
        return TemplateResponse(request, "admin/api/dataset/import.html", context)


# --- Images -----------------------------------------------------------------------------------


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = [
        "thumbnail",
        "path",
        "dataset",
        "short_id",
        "size",
        "ground_truth",
        "submitted_count",
        "reserved_count",
    ]
    list_display_links = ["thumbnail", "path"]
    list_filter = ["dataset"]
    list_select_related = ["dataset"]
    search_fields = ["path", "sha256"]
    readonly_fields = [
        "preview",
        "dataset",
        "path",
        "sha256",
        "width",
        "height",
        "position",
        "shuffle_key",
        "reserved_count",
        "submitted_count",
        "created_at",
        "updated_at",
    ]
    fields = [*readonly_fields[:7], "ground_truth", "metadata", *readonly_fields[7:]]

    def has_add_permission(self, request):
        return False  # images come from importing a dataset

    @admin.display(description="")
    def thumbnail(self, image):
        return _thumbnail_tag(reverse("admin:api_image_thumbnail", args=[image.pk]), THUMBNAIL, image.path)

    @admin.display(description="image")
    def preview(self, image):
        url = reverse("admin:api_image_thumbnail", args=[image.pk]) + f"?size={PREVIEW}"
        return _thumbnail_tag(url, PREVIEW, image.path)

    @admin.display(description="size")
    def size(self, image):
        return f"{image.width}×{image.height}"

    def get_urls(self):
        view = self.admin_site.admin_view(self.thumbnail_view)
        return [path("<int:pk>/thumbnail/", view, name="api_image_thumbnail"), *super().get_urls()]

    def thumbnail_view(self, request, pk):
        if not self.has_view_permission(request):
            raise PermissionDenied
        image = get_object_or_404(Image.objects.select_related("dataset"), pk=pk)
        size = _size_param(request)

        def draw():
            content, absent = _image_content(image)
            return thumbnails.image_thumbnail(content, size, absent=absent), content is not None

        return _picture_response(request, etag=f"{image.sha256}-{size}", content_type="image/jpeg", draw=draw)


def _size_param(request) -> int:
    try:
        return min(max(int(request.GET.get("size", THUMBNAIL)), 16), 1024)
    except ValueError:
        return THUMBNAIL


# --- Annotations ------------------------------------------------------------------------------


class RevisionInline(admin.TabularInline):
    model = AnnotationRevision
    fields = ["mask", "version", "reason", "label", "status", "stroke_total", "replaced_by", "created_at", "restore"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-version"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("replaced_by", "annotation")

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="mask")
    def mask(self, revision):
        return _thumbnail_tag(reverse("admin:api_annotationrevision_overlay", args=[revision.pk]), THUMBNAIL, "")

    @admin.display(description="strokes")
    def stroke_total(self, revision):
        return len(revision.strokes)

    @admin.display(description="")
    def restore(self, revision):
        url = reverse("admin:api_annotationrevision_restore", args=[revision.pk])
        return format_html('<a class="button" href="{}">Restore…</a>', url)


def _annotation_rows(queryset):
    """Yield the CSV export's rows: one per annotation, the mask as COCO RLE with its size."""
    yield [
        "annotation_id",
        "dataset",
        "image",
        "image_sha256",
        "width",
        "height",
        "annotator",
        "is_test",
        "label",
        "text",
        "status",
        "version",
        "started_at",
        "submitted_at",
        "active_ms",
        "stroke_count",
        "mask_area",
        "mask_rle",
    ]
    rows = queryset.select_related("image__dataset", "annotator__profile").defer("strokes", "client")
    for annotation in rows.order_by("pk").iterator(chunk_size=2000):
        image = annotation.image
        yield [
            annotation.pk,
            image.dataset.slug,
            spreadsheet_safe(image.path),
            image.sha256,
            image.width,
            image.height,
            spreadsheet_safe(annotation.annotator.username),
            getattr(getattr(annotation.annotator, "profile", None), "is_test", False),
            spreadsheet_safe(annotation.label or ""),
            spreadsheet_safe(annotation.text),
            annotation.status,
            annotation.version,
            annotation.started_at.isoformat() if annotation.started_at else "",
            annotation.submitted_at.isoformat() if annotation.submitted_at else "",
            annotation.active_ms,
            annotation.stroke_count,
            annotation.mask_area,
            annotation.mask_rle,
        ]


class _Echo:
    def write(self, value):
        return value


@admin.register(Annotation)
class AnnotationAdmin(admin.ModelAdmin):
    list_display = [
        "overlay",
        "id",
        "image",
        "dataset",
        "annotator",
        "is_test",
        "label",
        "status",
        "version",
        "stroke_count",
        "mask_area",
        "time_spent",
        "updated_at",
    ]
    list_display_links = ["overlay", "id"]
    list_filter = [
        ("image__dataset", admin.RelatedOnlyFieldListFilter),
        ("annotator", admin.RelatedOnlyFieldListFilter),
        "label",
        "status",
        AnnotatorTestFilter,
        admin_original.ImportedFilter,
    ]
    search_fields = ["image__path", "image__sha256", "annotator__username", "text"]
    list_select_related = ["image__dataset", "annotator__profile"]
    actions = ["export_csv"]
    readonly_fields = [
        "mask_preview",
        "image",
        "annotator",
        "label",
        "text",
        "status",
        "version",
        "stroke_count",
        "mask_area",
        "started_at",
        "submitted_at",
        "active_ms",
        "client",
        "original_row",
        "created_at",
        "updated_at",
        "strokes",
    ]
    fields = readonly_fields  # not the raw RLE: the picture shows it
    inlines = [RevisionInline]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.resolver_match and request.resolver_match.url_name == "api_annotation_changelist":
            queryset = queryset.defer("strokes", "mask_rle", "client")  # lists need neither
        return queryset

    def has_add_permission(self, request):
        return False  # annotations are drawn in the app, not typed in here

    def has_change_permission(self, request, obj=None):
        return False  # their content changes by the annotator, or by restoring a revision below

    def has_delete_permission(self, request, obj=None):
        return False  # research data, counted by the queue: kept, with its history

    @admin.display(description="mask")
    def overlay(self, annotation):
        url = reverse("admin:api_annotation_overlay", args=[annotation.pk]) + f"?v={annotation.version}"
        return _thumbnail_tag(url, THUMBNAIL, f"mask of annotation {annotation.pk}")

    @admin.display(description="mask over the image")
    def mask_preview(self, annotation):
        url = reverse("admin:api_annotation_overlay", args=[annotation.pk]) + f"?v={annotation.version}&size={PREVIEW}"
        return _thumbnail_tag(url, PREVIEW, f"mask of annotation {annotation.pk}")

    @admin.display(description="dataset", ordering="image__dataset__name")
    def dataset(self, annotation):
        return annotation.image.dataset.name

    @admin.display(description="imported from")
    def original_row(self, annotation):
        return admin_original.original_row(annotation)

    @admin.display(boolean=True, description="test user", ordering="annotator__profile__is_test")
    def is_test(self, annotation):
        return getattr(getattr(annotation.annotator, "profile", None), "is_test", False)

    @admin.display(description="time", ordering="active_ms")
    def time_spent(self, annotation):
        return _duration(annotation.active_ms)

    @admin.action(description="Export the selected annotations as CSV (masks as COCO RLE)")
    def export_csv(self, request, queryset):
        writer = csv.writer(_Echo())
        response = StreamingHttpResponse(
            (writer.writerow(row) for row in _annotation_rows(queryset)), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = 'attachment; filename="annotations.csv"'
        return response

    def get_urls(self):
        view = self.admin_site.admin_view(self.overlay_view)
        return [path("<int:pk>/overlay/", view, name="api_annotation_overlay"), *super().get_urls()]

    def overlay_view(self, request, pk):
        if not self.has_view_permission(request):
            raise PermissionDenied
        annotation = get_object_or_404(Annotation.objects.select_related("image__dataset"), pk=pk)
        image = annotation.image
        return _overlay_response(
            request,
            image,
            key=f"{annotation.pk}-{annotation.version}",
            mask=lambda: thumbnails.decode_mask(annotation.mask_rle, image.width, image.height),
        )


@admin.register(AnnotationRevision)
class AnnotationRevisionAdmin(admin.ModelAdmin):
    list_display = ["mask", "annotation", "version", "reason", "label", "status", "replaced_by", "created_at"]
    list_filter = ["reason", ("annotation__image__dataset", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["annotation__image", "annotation__annotator", "replaced_by"]
    readonly_fields = [
        "mask_preview",
        "annotation",
        "version",
        "label",
        "text",
        "status",
        "reason",
        "replaced_by",
        "created_at",
        "strokes",
    ]
    actions = ["restore"]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.resolver_match and request.resolver_match.url_name == "api_annotationrevision_changelist":
            queryset = queryset.defer("strokes")
        return queryset

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="mask")
    def mask(self, revision):
        return _thumbnail_tag(reverse("admin:api_annotationrevision_overlay", args=[revision.pk]), THUMBNAIL, "")

    @admin.display(description="mask over the image")
    def mask_preview(self, revision):
        url = reverse("admin:api_annotationrevision_overlay", args=[revision.pk]) + f"?size={PREVIEW}"
        return _thumbnail_tag(url, PREVIEW, "")

    @admin.action(description="Restore the selected revision (the current content is kept as a revision)")
    def restore(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one revision to restore.", messages.ERROR)
            return
        self._restore(request, queryset.get())

    def _restore(self, request, revision):
        try:
            annotation = services.annotation_restore(revision=revision, user=request.user)
        except services.ImageUnavailable as error:
            self.message_user(request, f"Not restored: {error}", messages.ERROR)
            return None
        self.message_user(
            request, f"Restored version {revision.version}; the annotation is now version {annotation.version}."
        )
        return annotation

    def get_urls(self):
        return [
            path(
                "<int:pk>/overlay/",
                self.admin_site.admin_view(self.overlay_view),
                name="api_annotationrevision_overlay",
            ),
            path(
                "<int:pk>/restore/",
                self.admin_site.admin_view(self.restore_view),
                name="api_annotationrevision_restore",
            ),
            *super().get_urls(),
        ]

    def overlay_view(self, request, pk):
        if not self.has_view_permission(request):
            raise PermissionDenied
        revision = get_object_or_404(AnnotationRevision.objects.select_related("annotation__image__dataset"), pk=pk)
        image = revision.annotation.image
        return _overlay_response(
            request,
            image,
            key=f"revision-{revision.pk}",
            mask=lambda: strokes.rasterize(revision.strokes, image.width, image.height),
        )

    def restore_view(self, request, pk):
        """Confirm, then restore one revision; back to the annotation's page."""
        if not self.has_view_permission(request) or user_role(request.user) != Role.ADMIN:
            raise PermissionDenied
        revision = get_object_or_404(
            AnnotationRevision.objects.select_related("annotation__image", "annotation__annotator", "replaced_by"),
            pk=pk,
        )
        annotation = revision.annotation
        back = reverse("admin:api_annotation_change", args=[annotation.pk])
        if request.method == "POST":
            self._restore(request, revision)
            return HttpResponseRedirect(back)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Restore version {revision.version} of annotation {annotation.pk}?",
            "opts": self.model._meta,
            "revision": revision,
            "annotation": annotation,
            "back": back,
            "current_url": reverse("admin:api_annotation_overlay", args=[annotation.pk])
            + f"?v={annotation.version}&size=320",
            "revision_url": reverse("admin:api_annotationrevision_overlay", args=[revision.pk]) + "?size=320",
        }
        return TemplateResponse(request, "admin/api/annotationrevision/restore_confirm.html", context)


# --- The queue ----------------------------------------------------------------------------------


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["image", "annotator", "dataset", "status", "leased_until", "skip_reason", "updated_at"]
    list_filter = [
        "status",
        ("dataset", admin.RelatedOnlyFieldListFilter),
        AnnotatorTestFilter,
    ]
    list_select_related = ["image", "annotator", "dataset"]
    search_fields = ["image__path", "annotator__username", "skip_reason"]
    readonly_fields = [
        "dataset",
        "image",
        "annotator",
        "status",
        "leased_until",
        "skip_reason",
        "created_at",
        "updated_at",
    ]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def delete_queryset(self, request, queryset):
        datasets = list(Dataset.objects.filter(pk__in=queryset.values("dataset")))
        super().delete_queryset(request, queryset)
        for dataset in datasets:  # deleting a skip or a lease frees its image: recount
            services.queue_recount(dataset=dataset)

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        services.queue_recount(dataset=obj.dataset)


@admin.register(AnnotatorProgress)
class AnnotatorProgressAdmin(admin.ModelAdmin):
    list_display = ["annotator", "dataset", "submitted_count", "skipped_count", "time_spent", "last_active_at"]
    list_filter = [("dataset", admin.RelatedOnlyFieldListFilter), AnnotatorTestFilter]
    list_select_related = ["annotator", "dataset"]
    search_fields = ["annotator__username"]
    readonly_fields = [f.name for f in AnnotatorProgress._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="time spent", ordering="active_ms")
    def time_spent(self, progress):
        return _duration(progress.active_ms)
