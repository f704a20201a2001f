"""Annotations and their revisions: read-only, masks drawn over their image, a CSV export, restoring a revision."""

import json

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html

from .. import selectors, services, strokes, thumbnails
from ..models import Annotation, AnnotationRevision, Role
from ..permissions import user_role
from ..selectors.strokes import stored_strokes
from .display import PREVIEW, THUMBNAIL, admin_page, duration, thumbnail_tag
from .filters import AnnotatorTestFilter
from .original import ImportedFilter, original_row
from .pictures import overlay_response


@admin.display(description="strokes")
def strokes_document(owner) -> str:
    """Show the strokes of an annotation or a revision as JSON, wherever they are kept (as a JSON field shows)."""
    return json.dumps(stored_strokes(owner), ensure_ascii=False)


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
        return thumbnail_tag(reverse("admin:api_annotationrevision_overlay", args=[revision.pk]), THUMBNAIL, "")

    @admin.display(description="strokes")
    def stroke_total(self, revision):
        # Counted when kept for a chunked annotation: reading its chunks would be a query a revision.
        return revision.stroke_count if revision.chunked else len(revision.strokes)

    @admin.display(description="")
    def restore(self, revision):
        url = reverse("admin:api_annotationrevision_restore", args=[revision.pk])
        return format_html('<a class="button" href="{}">Restore…</a>', url)


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
        ImportedFilter,
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
        "imported_from",
        "created_at",
        "updated_at",
        "strokes_document",
    ]
    fields = readonly_fields  # not the raw RLE: the picture shows it
    inlines = [RevisionInline]
    strokes_document = staticmethod(strokes_document)

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
        return thumbnail_tag(url, THUMBNAIL, f"mask of annotation {annotation.pk}")

    @admin.display(description="mask over the image")
    def mask_preview(self, annotation):
        url = reverse("admin:api_annotation_overlay", args=[annotation.pk]) + f"?v={annotation.version}&size={PREVIEW}"
        return thumbnail_tag(url, PREVIEW, f"mask of annotation {annotation.pk}")

    @admin.display(description="dataset", ordering="image__dataset__name")
    def dataset(self, annotation):
        return annotation.image.dataset.name

    @admin.display(description="imported from")
    def imported_from(self, annotation):
        return original_row(annotation)

    @admin.display(boolean=True, description="test user", ordering="annotator__profile__is_test")
    def is_test(self, annotation):
        return getattr(getattr(annotation.annotator, "profile", None), "is_test", False)

    @admin.display(description="time", ordering="active_ms")
    def time_spent(self, annotation):
        return duration(annotation.active_ms)

    @admin.action(description="Export the selected annotations as CSV (masks as COCO RLE)")
    def export_csv(self, request, queryset):
        # The research export's CSV (dataset_export's), with each mask as RLE and its size.
        rows = selectors.annotation_csv(annotations=queryset, with_masks=True)
        response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
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
        return overlay_response(
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
        "strokes_document",
    ]
    actions = ["restore"]
    strokes_document = staticmethod(strokes_document)

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
        return thumbnail_tag(reverse("admin:api_annotationrevision_overlay", args=[revision.pk]), THUMBNAIL, "")

    @admin.display(description="mask over the image")
    def mask_preview(self, revision):
        url = reverse("admin:api_annotationrevision_overlay", args=[revision.pk]) + f"?size={PREVIEW}"
        return thumbnail_tag(url, PREVIEW, "")

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
        return overlay_response(
            request,
            image,
            key=f"revision-{revision.pk}",
            mask=lambda: strokes.rasterize(stored_strokes(revision), image.width, image.height),
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
        return admin_page(
            self,
            request,
            "admin/api/annotationrevision/restore_confirm.html",
            title=f"Restore version {revision.version} of annotation {annotation.pk}?",
            revision=revision,
            annotation=annotation,
            back=back,
            current_url=reverse("admin:api_annotation_overlay", args=[annotation.pk])
            + f"?v={annotation.version}&size=320",
            revision_url=reverse("admin:api_annotationrevision_overlay", args=[revision.pk]) + "?size=320",
        )
