"""Bring datasets imported before the assignment queue into it.

Gives each dataset its own seed and each image its random-order key, records every existing
annotation as an assignment (submitted, or a draft whose lease has run out), and counts what
the queue keeps counted: image counts, fill levels, each annotator's progress and time spent.
"""

from django.db import migrations
from django.db.models import Sum

from backend.api.models import new_seed, shuffle_key
from backend.api.services.queue import recount_dataset


def backfill(apps, schema_editor):
    Dataset = apps.get_model("api", "Dataset")
    Image = apps.get_model("api", "Image")
    Annotation = apps.get_model("api", "Annotation")
    Assignment = apps.get_model("api", "Assignment")
    AnnotatorProgress = apps.get_model("api", "AnnotatorProgress")
    Profile = apps.get_model("api", "Profile")
    models = {
        "Image": Image,
        "Assignment": Assignment,
        "AnnotatorProgress": AnnotatorProgress,
        "Annotation": Annotation,
        "Dataset": Dataset,
        "Profile": Profile,
    }
    for dataset in Dataset.objects.all():
        dataset.seed = new_seed()
        dataset.save(update_fields=["seed"])
        images = list(Image.objects.filter(dataset=dataset).only("pk", "sha256"))
        for image in images:
            image.shuffle_key = shuffle_key(dataset.seed, image.sha256)
        Image.objects.bulk_update(images, ["shuffle_key"], batch_size=2000)
        assignments = [
            Assignment(
                dataset_id=dataset.pk,
                image_id=image_id,
                annotator_id=annotator_id,
                # A draft's lease is long over: its slot is free until the annotator saves again.
                status="submitted" if status == "submitted" else "released",
            )
            for image_id, annotator_id, status in Annotation.objects.filter(image__dataset=dataset).values_list(
                "image_id", "annotator_id", "status"
            )
        ]
        Assignment.objects.bulk_create(assignments, batch_size=2000, ignore_conflicts=True)
        recount_dataset(dataset_id=dataset.pk, models=models)
        spent = (
            Annotation.objects.filter(image__dataset=dataset)
            .values("annotator_id")
            .annotate(ms=Sum("active_ms"))
            .values_list("annotator_id", "ms")
        )
        for annotator_id, ms in spent:
            AnnotatorProgress.objects.filter(dataset=dataset, annotator_id=annotator_id).update(active_ms=ms or 0)


class Migration(migrations.Migration):
    dependencies = [("api", "0004_assignment_queue")]

    operations = [migrations.RunPython(backfill, reverse_code=migrations.RunPython.noop)]
