"""Import data/dataset/ (DATASET_ROOT/dataset) when it exists, as the original tool did.

Uses the same importer as ``manage.py import_dataset``; running it again, or the command
afterwards, adds only what is new. Prefer the command for new datasets.
"""

from django.db import migrations

from backend.api.manual_migration import import_dataset


class Migration(migrations.Migration):
    dependencies = [("api", "0002_roles")]

    operations = [migrations.RunPython(import_dataset, reverse_code=migrations.RunPython.noop)]
