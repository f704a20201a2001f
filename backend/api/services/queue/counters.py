"""The queue's counters: rebuilt from the assignments, and the dataset's pool version bumped when images may be free.

What they should hold is counted in one place, ``selectors.queue.queue_counts``; ``queue_check``
compares with it, ``recount_dataset`` writes it.
"""

from collections.abc import Mapping

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F

from ...models import AnnotatorProgress, Assignment, Dataset, Image
from ...selectors.queue import queue_counts


def pool_changed(*, dataset: Dataset) -> None:
    """Note that images may have become available, so annotators found to be finished are searched again.

    Always the last statement of its transaction: the dataset row is referenced by foreign keys,
    so while it is locked other transactions' inserts queue behind it. Holding it last means
    whoever holds it waits for nothing, and no wait can close a cycle through it. Other services
    call it too (new dataset settings, a user's test flag changed).
    """
    Dataset.objects.filter(pk=dataset.pk).update(pool_version=F("pool_version") + 1)


@transaction.atomic
def queue_recount(*, dataset: Dataset) -> None:
    """Rebuild the dataset's counters from its assignments (after a user became or stopped being a test user)."""
    recount_dataset(dataset_id=dataset.pk)
    pool_changed(dataset=dataset)


def recount_dataset(*, dataset_id: int, models: Mapping[str, type] | None = None) -> None:
    """Rebuild one dataset's counters. ``models`` lets a data migration pass its historical models by name."""
    model = (models or {}).get
    image_model, progress_model = model("Image", Image), model("AnnotatorProgress", AnnotatorProgress)
    counts = queue_counts(dataset_id=dataset_id, models=models)
    # Lock the images in id order first, as release_expired_leases does, so the two never deadlock.
    current = image_model.objects.select_for_update(no_key=True).filter(dataset_id=dataset_id).order_by("pk")
    changed = []
    for image in current.only("pk", "reserved_count", "submitted_count").iterator(chunk_size=5000):
        expected = counts.image(image.pk)
        if (image.reserved_count, image.submitted_count) != expected:
            image.reserved_count, image.submitted_count = expected
            changed.append(image)
    image_model.objects.bulk_update(changed, ["reserved_count", "submitted_count"], batch_size=2000)

    for annotator_id, (submitted, skipped) in counts.handled.items():
        progress_model.objects.get_or_create(dataset_id=dataset_id, annotator_id=annotator_id)
        progress_model.objects.filter(dataset_id=dataset_id, annotator_id=annotator_id).update(
            submitted_count=submitted, skipped_count=skipped
        )
    model("Dataset", Dataset).objects.filter(pk=dataset_id).update(
        image_count=image_model.objects.filter(dataset_id=dataset_id).count()
    )


def user_datasets_recount(*, user: User) -> None:
    """Rebuild the counters of every dataset the user has worked on (their test flag changed)."""
    datasets = list(
        Dataset.objects.filter(pk__in=Assignment.objects.filter(annotator=user).values("dataset")).order_by("pk")
    )
    for dataset in datasets:
        recount_dataset(dataset_id=dataset.pk)
    for dataset in datasets:  # the dataset rows last, as everywhere
        pool_changed(dataset=dataset)
