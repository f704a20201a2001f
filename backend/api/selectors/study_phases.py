"""Which images an annotation phase hands a participant: its subset of the dataset, balanced by condition.

A phase draws from its whole dataset through the assignment queue, as annotators do, unless its
study file says otherwise (``studyfile._subset``, ``per_condition``):

- ``subset``: only the dataset's images whose metadata column holds one of some values, or those
  named by file name;
- ``per_condition``: each image's target of annotations *under each condition*. The phase then
  hands a participant, first, the images with the fewest annotations under the participant's
  condition for this phase, and none that has reached the target under it.

Either way the queue still leases, renews, keeps the dataset's own target
(``annotators_per_image``, the hard cap over all conditions) and never hands an image twice to
one participant: ``phase_candidates`` only tells it which images, in which order
(``queue_next(among=...)``).

What counts under a condition is what the queue counts towards its target: trials of
participants who count (not excluded, not test) whose image is still leased to them or
submitted by them. The counts are read without a lock, so participants of one condition asking at
the same moment may both get an image's last place under it: the target can be passed by the few
asking at once, never by more (the dataset's target, taken under lock, is the hard cap).
"""

from django.db.models import Count, Exists, OuterRef
from django.db.models.fields.json import KeyTextTransform

from .. import design
from ..models import Assignment, Condition, Image, Participant, Step, Trial
from .studies import condition_of


def phase_images(step: Step) -> list[tuple[int, str, int]]:
    """Return the images of the phase's subset as (id, sha256, reserved_count), in the dataset's file order."""
    return subset_images(dataset_id=step.dataset_id, subset=step.config.get("subset"))


def subset_images(*, dataset_id: int, subset: dict | None) -> list[tuple[int, str, int]]:
    """Return the dataset's images in a study file's subset (all without one) as (id, sha256, reserved_count)."""
    subset = subset or {}
    rows = Image.objects.filter(dataset_id=dataset_id).order_by("position", "pk")
    if subset.get("column"):
        # Compared here, not in SQL: a JSON key's text compares alike on SQLite and PostgreSQL only this way.
        values = set(subset["values"])
        rows = rows.annotate(subset_value=KeyTextTransform(subset["column"], "metadata"))
        images = [row[:4] for row in rows.values_list("pk", "path", "sha256", "reserved_count", "subset_value")
                  if row[4] is not None and str(row[4]) in values]  # fmt: skip
    else:
        images = list(rows.values_list("pk", "path", "sha256", "reserved_count"))
    names = subset.get("images")
    if names:
        wanted = _name_keys(names)
        images = [row for row in images if _path_keys(row[1]) & wanted]
    return [(pk, sha256, reserved) for pk, _, sha256, reserved in images]


def subset_unknown_names(*, dataset_id: int, names: list[str]) -> list[str]:
    """Return the names of a subset's images that match no image of the dataset."""
    known = set()
    for path in Image.objects.filter(dataset_id=dataset_id).values_list("path", flat=True):
        known |= _path_keys(path)
    return [name for name in names if not _name_keys([name]) & known]


def _name_keys(names: list[str]) -> set[str]:
    """Return what the study file's image names match: the path under images/, with or without its extension."""
    return {name.removeprefix("./").removeprefix("images/") for name in names}


def _path_keys(path: str) -> set[str]:
    name = path.removeprefix("images/")
    return {name, name.rsplit(".", 1)[0]} if "." in name.rsplit("/", 1)[-1] else {name}


def condition_counts(step: Step, condition: Condition) -> dict[int, int]:
    """Return, by image id, the annotations under ``condition`` that count towards the phase's dataset.

    Trials of the dataset's images under the condition, by participants who count, whose image
    is leased to them or submitted by them (as ``Image.reserved_count`` counts).
    """
    held = Assignment.objects.filter(
        image_id=OuterRef("image_id"),
        annotator_id=OuterRef("participant__user_id"),
        status__in=[Assignment.Status.LEASED, Assignment.Status.SUBMITTED],
    )
    rows = (
        Trial.objects.filter(
            condition=condition,
            image__dataset_id=step.dataset_id,
            kind=Trial.Kind.MAIN,
            participant__excluded=False,
            participant__is_test=False,
        )
        .exclude(status=Trial.Status.LOST)
        .filter(Exists(held))
        .order_by()
        .values("image_id")
        .annotate(n=Count("pk"))
    )
    return {row["image_id"]: row["n"] for row in rows}


def phase_candidates(participant: Participant, step: Step) -> list[int] | None:
    """Return the ids of the images the phase may hand the participant, best first; None: all, as the queue walks them.

    Best first: the fewest annotations under the participant's condition (with ``per_condition``),
    then the fewest overall (the queue's fill level), then the participant's own random order
    for the phase (seeded: ``design.order_key``). Images at the target under their condition are left out.
    """
    subset, target = step.config.get("subset"), step.config.get("per_condition")
    if step.kind != Step.Kind.ANNOTATION or (not subset and target is None):
        return None
    images = phase_images(step)
    condition = condition_of(participant, step)
    counts = condition_counts(step, condition) if target is not None and condition is not None else {}
    what = f"phase:{step.pk}:{participant.number}"
    seed = participant.study.seed
    ranked = sorted(
        (counts.get(pk, 0), reserved, design.order_key(seed, what, sha256), pk)
        for pk, sha256, reserved in images
        if target is None or counts.get(pk, 0) < target
    )
    return [pk for *_, pk in ranked]
