"""Django admin at /api/admin/: users and roles, datasets, images, annotations and their history."""

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils.html import format_html

from . import services
from .models import Annotation, AnnotationRevision, Dataset, Image, Profile


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False


admin.site.unregister(User)


@admin.register(User)
class EyeTaggerUserAdmin(UserAdmin):
    inlines = [ProfileInline]
    list_display = ["username", "email", "is_staff", "group_names", "is_test"]
    list_filter = ["is_staff", "groups", "profile__is_test", "is_active"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("profile").prefetch_related("groups")

    @admin.display(description="roles")
    def group_names(self, user):
        return ", ".join(g.name for g in user.groups.all())

    @admin.display(boolean=True, description="test user")
    def is_test(self, user):
        return getattr(getattr(user, "profile", None), "is_test", False)


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "root", "question", "annotators_per_image", "updated_at"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name", "slug"]


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = ["path", "dataset", "short_id", "width", "height", "ground_truth"]
    list_filter = ["dataset"]
    search_fields = ["path", "sha256"]
    readonly_fields = ["sha256", "width", "height", "created_at", "updated_at"]


class RevisionInline(admin.TabularInline):
    model = AnnotationRevision
    fields = ["version", "reason", "label", "status", "stroke_total", "replaced_by", "created_at", "restore_link"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="strokes")
    def stroke_total(self, revision):
        return len(revision.strokes)

    @admin.display(description="")
    def restore_link(self, revision):
        url = reverse("admin:api_annotationrevision_changelist") + f"?annotation__id__exact={revision.annotation_id}"
        return format_html('<a href="{}">restore…</a>', url)


@admin.register(Annotation)
class AnnotationAdmin(admin.ModelAdmin):
    list_display = ["id", "image", "annotator", "label", "status", "version", "stroke_count", "mask_area", "updated_at"]
    list_filter = ["image__dataset", "status", "label", "annotator__profile__is_test"]
    search_fields = ["image__path", "annotator__username"]
    list_select_related = ["image", "annotator"]
    readonly_fields = [
        "image",
        "annotator",
        "strokes",
        "version",
        "stroke_count",
        "mask_area",
        "mask_rle",
        "started_at",
        "submitted_at",
        "active_ms",
        "client",
        "created_at",
        "updated_at",
    ]
    inlines = [RevisionInline]

    def has_add_permission(self, request):
        return False  # annotations are drawn in the app, not typed in here


@admin.register(AnnotationRevision)
class AnnotationRevisionAdmin(admin.ModelAdmin):
    list_display = ["annotation", "version", "reason", "label", "status", "replaced_by", "created_at"]
    list_filter = ["reason", "annotation__image__dataset"]
    list_select_related = ["annotation__image", "annotation__annotator", "replaced_by"]
    readonly_fields = [
        "annotation",
        "version",
        "strokes",
        "label",
        "text",
        "status",
        "reason",
        "replaced_by",
        "created_at",
    ]
    actions = ["restore"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Restore the selected revision (the current content is kept as a revision)")
    def restore(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one revision to restore.", messages.ERROR)
            return
        revision = queryset.get()
        annotation = services.annotation_restore(revision=revision, user=request.user)
        self.message_user(
            request, f"Restored version {revision.version}; the annotation is now version {annotation.version}."
        )
