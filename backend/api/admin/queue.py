"""The assignment queue: assignments (leases, submissions, skips) and each annotator's progress, read-only."""

from django.contrib import admin

from .. import services
from ..models import AnnotatorProgress, Assignment, Dataset
from .display import duration
from .filters import AnnotatorTestFilter


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
        return duration(progress.active_ms)
