"""Images: read-only but for their ground truth and metadata, with thumbnails."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.urls import path, reverse

from .. import thumbnails
from ..models import Image
from ..views.file_responses import FileBody
from .display import PREVIEW, THUMBNAIL, thumbnail_tag
from .pictures import image_content, picture_response, size_param


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
        return thumbnail_tag(reverse("admin:api_image_thumbnail", args=[image.pk]), THUMBNAIL, image.path)

    @admin.display(description="image")
    def preview(self, image):
        url = reverse("admin:api_image_thumbnail", args=[image.pk]) + f"?size={PREVIEW}"
        return thumbnail_tag(url, PREVIEW, image.path)

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
        size = size_param(request)

        def draw() -> FileBody:
            content, absent = image_content(image)
            return FileBody(thumbnails.image_thumbnail(content, size, absent=absent), cacheable=content is not None)

        return picture_response(request, etag=f"{image.sha256}-{size}", content_type="image/jpeg", draw=draw)
