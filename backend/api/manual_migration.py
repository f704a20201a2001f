"""The original tool's migration-based importer, kept so its users' workflow still works.

A data migration calls ``import_dataset`` to load DATASET_ROOT/dataset (images/ and
metadata.csv) through the same importer code as ``manage.py import_dataset``. To load
another folder from a migration of your own, wrap ``import_folder`` the same way.
"""

from pathlib import Path

from django.conf import settings

from . import importing


def import_folder(apps, folder: Path, *, name: str, slug: str) -> None:
    """Import ``folder`` (below DATASET_ROOT) with the migration's historical models."""
    from .services import ImportReport, apply_import_plan

    if not (folder / "metadata.csv").exists():
        print(f"\n  {folder} has no metadata.csv: nothing to import.")
        return
    Dataset = apps.get_model("api", "Dataset")
    Image = apps.get_model("api", "Image")
    root = folder.relative_to(settings.DATASET_ROOT).as_posix()
    plan = importing.plan_import(folder)
    dataset, _ = Dataset.objects.get_or_create(root=root, defaults={"name": name, "slug": slug})
    report = ImportReport(dataset=dataset, created=False)
    apply_import_plan(plan, dataset=dataset, image_model=Image, report=report)
    for title, items in report.sections():
        print(f"\n  {len(items)} {title}", end="")
    print()


def import_dataset(apps, schema_editor):
    """Import DATASET_ROOT/dataset if it exists."""
    folder = Path(settings.DATASET_ROOT) / "dataset"
    if folder.is_dir():
        import_folder(apps, folder, name="Dataset", slug="dataset")
