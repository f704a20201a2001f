"""The original EyeTagger's import: the form running ``services.original_import`` with its report, the
original rows each imported annotation keeps, and the accounts the original users became.

``annotations.AnnotationAdmin`` shows ``original_row`` and filters by ``ImportedFilter``.
"""

import base64
import os
import tempfile
from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from .. import importing, services
from ..models import OriginalAccount, OriginalAnnotation
from ..original import rows
from ..original.database import OriginalDatabase
from ..original.dump import DumpInvalid, PgDump


class ImportedFilter(admin.SimpleListFilter):
    """Annotations imported from the original EyeTagger, or drawn here."""

    title = "origin"
    parameter_name = "original"

    def lookups(self, request, model_admin):
        return [("yes", "imported from the original EyeTagger"), ("no", "drawn in EyeTagger")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(original__isnull=self.value() == "no")
        return queryset


def original_row(annotation) -> str:
    """Return a link to the original row an annotation was imported from, saying how it was read; or a dash."""
    original = OriginalAnnotation.objects.filter(annotation=annotation).only(
        "pk", "original_id", "strokes_from", "device_pixel_ratio", "svg_iou"
    )
    original = original.first()
    if original is None:
        return "—"
    agreement = f", SVG against PNG IoU {original.svg_iou:.4f}" if original.svg_iou is not None else ""
    ratio = f", drawn at devicePixelRatio {original.device_pixel_ratio:g}" if original.device_pixel_ratio else ""
    return format_html(
        '<a href="{}">api_annotation {}</a>: imported from the original EyeTagger; strokes {}{}{}',
        reverse("admin:api_originalannotation_change", args=[original.pk]),
        original.original_id,
        original.get_strokes_from_display(),
        ratio,
        agreement,
    )


def _lines(text: str) -> list[str]:
    return [part.strip() for line in text.splitlines() for part in line.split(",") if part.strip()]


class OriginalImportForm(forms.Form):
    """Bring an original EyeTagger deployment over: its backup (or database) and its data/dataset folder."""

    dump = forms.FileField(
        required=False,
        help_text="The original's backup (.sql or .sql.gz), as its README's pg_dump or backups.sh wrote it.",
    )
    dump_path = forms.CharField(
        required=False,
        label="Or a backup on the server",
        help_text=f"Below DATASET_ROOT ({settings.DATASET_ROOT}), e.g. eyetagger_bkp_2024_06_24_06_00_PM.sql.gz.",
    )
    database_url = forms.CharField(
        required=False,
        label="Or its database",
        help_text="Read read-only: postgres://eyetagger_admin:PASSWORD@HOST:5432/eyetagger",
        widget=forms.PasswordInput(render_value=True),
    )
    dataset_dir = forms.CharField(
        label="Dataset folder",
        help_text="The original's data/dataset folder (images/, metadata.csv), below DATASET_ROOT, e.g. original.",
    )
    name = forms.CharField(required=False, max_length=200, help_text="The dataset's name (default: the folder's).")
    question = forms.CharField(required=False, max_length=500, help_text='Default: "Is this image real or fake?"')
    choices = forms.CharField(
        required=False, help_text="What the Real and Fake buttons become, in that order (default: real, fake)."
    )
    map_users = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="OLD=NEW, one a line: an existing account NEW takes OLD's work; a free name is created.",
    )
    skip_annotations = forms.CharField(
        required=False, help_text="api_annotation ids to leave out (rows that cannot be read), comma-separated."
    )
    tokens = forms.BooleanField(required=False, help_text="Keep the users' API tokens.")
    dry_run = forms.BooleanField(
        required=False, initial=True, help_text="Read everything and show the report, but write nothing."
    )

    def clean(self):
        cleaned = super().clean()
        given = [
            bool(cleaned.get("dump")),
            bool(cleaned.get("dump_path", "").strip()),
            bool(cleaned.get("database_url")),
        ]
        if sum(given) != 1:
            raise ValidationError(
                "Upload a backup, name one on the server, or give the database's URL (one of the three)."
            )
        return cleaned

    def clean_map_users(self):
        mapping = {}
        for pair in _lines(self.cleaned_data["map_users"]):
            old, equals, new = pair.partition("=")
            if not equals or not old.strip() or not new.strip():
                raise ValidationError(f"Write each as OLD=NEW (e.g. alice=alice_original); got {pair!r}.")
            mapping[old.strip()] = new.strip()
        return mapping

    def clean_skip_annotations(self):
        try:
            return [int(value) for value in _lines(self.cleaned_data["skip_annotations"])]
        except ValueError:
            raise ValidationError("Give row ids as whole numbers, comma-separated.") from None

    def clean_choices(self):
        return _lines(self.cleaned_data["choices"]) or None


def _below_dataset_root(relative: str) -> Path:
    """Return DATASET_ROOT/relative, refusing a path that leads outside it."""
    root = Path(os.path.abspath(settings.DATASET_ROOT))
    target = Path(os.path.abspath(root / relative.strip().lstrip("/")))
    if not target.is_relative_to(root):
        raise ValidationError(f"{relative} leads outside DATASET_ROOT ({root}).")
    return target


@admin.register(OriginalAnnotation)
class OriginalAnnotationAdmin(admin.ModelAdmin):
    list_display = [
        "original_id",
        "annotation_link",
        "annotator",
        "image",
        "strokes_from",
        "device_pixel_ratio",
        "agreement",
        "svg_pixels_differing",
        "imported_at",
    ]
    list_filter = ["strokes_from", ("annotation__image__dataset", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["original_id", "annotation__annotator__username", "annotation__image__path"]
    list_select_related = ["annotation__annotator", "annotation__image"]
    readonly_fields = [
        "annotation_link",
        "original_id",
        "png_preview",
        "device_pixel_ratio",
        "strokes_from",
        "agreement",
        "svg_pixels_differing",
        "text",
        "real_button",
        "fake_button",
        "ground_truth",
        "times",
        "svg",
        "notes",
        "digest",
        "imported_version",
        "imported_at",
    ]
    fields = readonly_fields
    change_list_template = "admin/api/originalannotation/change_list.html"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.resolver_match and request.resolver_match.url_name == "api_originalannotation_changelist":
            queryset = queryset.defer("png", "svg", "times")  # the list shows none of them
        return queryset

    def has_add_permission(self, request):
        return False  # made by the import only

    def has_change_permission(self, request, obj=None):
        return False  # the original's row, verbatim

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="annotation")
    def annotation_link(self, original):
        url = reverse("admin:api_annotation_change", args=[original.annotation_id])
        return format_html('<a href="{}">annotation {}</a>', url, original.annotation_id)

    @admin.display(ordering="annotation__annotator__username")
    def annotator(self, original):
        return original.annotation.annotator

    @admin.display(ordering="annotation__image__path")
    def image(self, original):
        return original.annotation.image

    @admin.display(description="SVG against PNG (IoU)", ordering="svg_iou")
    def agreement(self, original):
        return "—" if original.svg_iou is None else f"{original.svg_iou:.4f}"

    @admin.display(description="the original's PNG")
    def png_preview(self, original):
        if not original.png:
            return "— (the row held no PNG)"
        source = "data:image/png;base64," + base64.b64encode(bytes(original.png)).decode()
        # On a checkerboard: the strokes are semi-transparent green on transparency.
        return format_html(
            '<img src="{}" alt="the original PNG of row {}" style="max-width: 480px; background: repeating-conic-'
            'gradient(#ccc 0 25%, #fff 0 50%) 0 0 / 16px 16px">',
            source,
            original.original_id,
        )

    def get_urls(self):
        view = self.admin_site.admin_view(self.import_view)
        return [path("import/", view, name="api_originalannotation_import"), *super().get_urls()]

    def import_view(self, request):
        """Run the import (or its dry run) from the form, then show its report."""
        if not request.user.is_superuser:
            raise PermissionDenied  # it creates accounts, admins among them
        form = OriginalImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                report = self._run(data)
            except (DumpInvalid, rows.OriginalInvalid, importing.DatasetFolderInvalid) as error:
                form.add_error(None, str(error))
            except ValidationError as error:
                for message in error.messages:
                    form.add_error(None, message)
            except OSError as error:  # a file on the server that cannot be read
                form.add_error(
                    None, f"The server could not read {error.filename or 'a file'}: {error.strerror or error}."
                )
            else:
                context = {
                    **self.admin_site.each_context(request),
                    "title": ("Dry run: " if report.dry_run else "") + f"imported {report.dataset.name}",
                    "opts": self.model._meta,
                    "report": report,
                    "summary": report.summary(),
                    "sections": [(title, items) for title, items in report.sections() if items],
                    "dataset_url": None
                    if report.dry_run
                    else reverse("admin:api_dataset_change", args=[report.dataset.pk]),
                }
                return TemplateResponse(request, "admin/api/originalannotation/import_report.html", context)
        context = {
            **self.admin_site.each_context(request),
            "title": "Import from the original EyeTagger",
            "opts": self.model._meta,
            "form": form,
        }
        return TemplateResponse(request, "admin/api/originalannotation/import.html", context)

    def _run(self, data: dict):
        options = {
            "dataset_dir": _below_dataset_root(data["dataset_dir"]),
            "name": data["name"] or None,
            "question": data["question"] or None,
            "choices": data["choices"],
            "user_map": data["map_users"],
            "skip_annotations": data["skip_annotations"],
            "tokens": data["tokens"],
            "dry_run": data["dry_run"],
        }
        if data["database_url"]:
            with OriginalDatabase(data["database_url"]) as source:
                return services.original_import(source=source, **options)
        if data["dump_path"].strip():
            source = PgDump(_below_dataset_root(data["dump_path"]), keep=rows.SMALL_TABLES).scan()
            return services.original_import(source=source, **options)
        upload = data["dump"]
        with tempfile.TemporaryDirectory(dir=settings.FILE_UPLOAD_TEMP_DIR) as folder:
            # The dump is read twice (checked whole, then its annotations streamed): it needs a file.
            path = Path(folder) / Path(upload.name).name
            with open(path, "wb") as out:
                for chunk in upload.chunks():
                    out.write(chunk)
            source = PgDump(path, keep=rows.SMALL_TABLES).scan()
            return services.original_import(source=source, **options)


@admin.register(OriginalAccount)
class OriginalAccountAdmin(admin.ModelAdmin):
    list_display = ["original_username", "original_id", "user", "dataset", "created_at"]
    list_filter = [("dataset", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["original_username", "user__username"]
    list_select_related = ["user", "dataset"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
