"""Writes on studies: importing a study file (creating or updating the study), and opening or closing it."""

from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction

from .. import studyfile
from ..design import catch_count
from ..models import Condition, Dataset, Step, Study
from ..selectors.studies import image_named
from ..selectors.study_phases import subset_images, subset_unknown_names

# What may change in a study once participants have enrolled: nothing they go through.
SETTINGS_EDITABLE_WITH_PARTICIPANTS = ("title", "description", "status", "closes_at", "max_participants")


class StudyRefusal(Exception):
    """A participant's (or a visitor's) request that the study's state refuses: a 4xx with a code and a message."""

    def __init__(self, code: str, message: str, *, status: int = 409):
        super().__init__(message)
        self.code = code
        self.status = status


@dataclass
class StudyImportReport:
    """What importing a study file did."""

    study: Study
    created: bool
    changed: list[str] = field(default_factory=list)  # the top-level settings that changed


def study_import(*, text: str | bytes) -> StudyImportReport:
    """Create or update the study a study file describes (found by its slug); all or nothing.

    Every problem of the file is reported at once (ValidationError, code ``invalid_study_file``,
    each message naming its path). Datasets are named by slug and must exist; practice and
    example images must be in them. A study someone has enrolled in keeps its protocol: only
    its title, description, status, close date and cap may change then (copy it under a new
    slug to change the rest).
    """
    try:
        spec = studyfile.read_study(text)
    except studyfile.StudyFileInvalid as error:
        raise ValidationError(error.problems, code="invalid_study_file") from None
    return _apply(spec)


@transaction.atomic
def _apply(spec: dict) -> StudyImportReport:
    datasets = _datasets(spec)
    study = Study.objects.select_for_update().filter(slug=spec["slug"]).first()
    created = study is None
    if created:
        study = Study(slug=spec["slug"])
    elif study.participants.exists():
        return _update_settings(study, spec)
    changed = [] if created else _changed_settings(study, spec)
    _set_settings(study, spec, datasets)
    if spec["seed"] is not None:
        study.seed = spec["seed"]
    study.full_clean()
    study.save()
    if not created:
        study.steps.all().delete()
        study.conditions.all().delete()
    conditions = {}
    for position, item in enumerate(spec["conditions"]):
        condition = Condition(
            study=study,
            position=position,
            slug=item["slug"],
            name=item["name"],
            description=item["description"],
            show_ai_label="ai_label" in item["show"],
            show_ai_confidence="ai_confidence" in item["show"],
            show_ai_saliency="ai_saliency" in item["show"],
            placement=item["placement"],
            toggle=item["toggle"],
            between=item["slug"] in spec["assignment"]["between"],
        )
        condition.full_clean(exclude=["study"])
        condition.save()
        conditions[condition.slug] = condition
    for position, item in enumerate(spec["steps"]):
        _step(study, position, item, datasets, conditions).save()
    return StudyImportReport(study=study, created=created, changed=changed)


def _datasets(spec: dict) -> dict[str, Dataset]:
    """Return the datasets the study names, by slug; refuse names of datasets that do not exist."""
    named: dict[str, str] = {}  # slug -> where it is named first
    if spec["catch"]:
        named.setdefault(spec["catch"]["dataset"], "catch.dataset")
    for index, step in enumerate(spec["steps"]):
        if "dataset" in step:
            named.setdefault(step["dataset"], f"steps[{index}].dataset")
        for name, example in step.get("examples", {}).items():
            named.setdefault(example["dataset"], f"steps[{index}].examples.{name}.dataset")
    found = {d.slug: d for d in Dataset.objects.filter(slug__in=named)}
    missing = [
        f"{where}: there is no dataset {slug!r}; import it first" for slug, where in named.items() if slug not in found
    ]
    if missing:
        raise ValidationError(missing, code="invalid_study_file")
    _check_images(spec, found)
    return found


def _check_images(spec: dict, datasets: dict[str, Dataset]) -> None:
    """Refuse practice or example images that are not in their dataset, and datasets used in two roles."""
    problems = []
    phase_datasets = {step["dataset"] for step in spec["steps"] if step["type"] == "annotation"}
    side_datasets = {
        step["dataset"]: f"steps[{i}]" for i, step in enumerate(spec["steps"]) if step["type"] == "practice"
    }
    if spec["catch"]:
        side_datasets[spec["catch"]["dataset"]] = "catch"
    for slug, where in side_datasets.items():
        dataset = datasets[slug]
        if slug in phase_datasets:
            problems.append(
                f"{where}.dataset: {slug!r} is also an annotation step's dataset; practice and catch images must be a "
                "dataset of their own, so they never count among the annotations"
            )
        if dataset.annotators_per_image is not None:
            problems.append(
                f"{where}.dataset: {slug!r} has a target of {dataset.annotators_per_image} annotators per image; "
                "practice and catch datasets need none (every participant may see every image): clear it in admin"
            )
    for index, step in enumerate(spec["steps"]):
        if step["type"] == "practice":
            dataset = datasets[step["dataset"]]
            for name in step["images"]:
                if image_named(dataset, name) is None:
                    problems.append(f"steps[{index}].images: {name!r} is not an image of the dataset {dataset.slug!r}")
            if step["count"] and dataset.image_count < step["count"]:
                problems.append(
                    f"steps[{index}].count: {step['count']} practice images, but {dataset.slug!r} has "
                    f"{dataset.image_count}"
                )
        for name, example in step.get("examples", {}).items():
            if image_named(datasets[example["dataset"]], example["file"]) is None:
                problems.append(
                    f"steps[{index}].examples.{name}.file: {example['file']!r} is not an image of the dataset "
                    f"{example['dataset']!r}"
                )
    problems += _phase_problems(spec, datasets)
    if spec["catch"]:
        catch_images = datasets[spec["catch"]["dataset"]].image_count
        needed = sum(_phase_catches(step) for step in spec["steps"] if step["type"] == "annotation")
        if needed > catch_images:
            problems.append(
                f"catch.dataset: each participant sees {needed} catch images, but {spec['catch']['dataset']!r} has "
                f"{catch_images}; a participant never sees an image twice"
            )
    if problems:
        raise ValidationError(problems, code="invalid_study_file")


def _phase_problems(spec: dict, datasets: dict[str, Dataset]) -> list[str]:
    """Return the problems of the annotation phases' subsets and per-condition targets with their datasets."""
    problems = []
    between = len(spec["assignment"]["between"])
    conditions: dict[str, set] = {}  # dataset slug -> the conditions its images are annotated under
    for step in spec["steps"]:
        if step["type"] == "annotation":
            shown = {step["condition"]} if step["condition"] else set(spec["assignment"]["between"])
            conditions.setdefault(step["dataset"], set()).update(shown)
    for index, step in enumerate(spec["steps"]):
        if step["type"] != "annotation":
            continue
        dataset = datasets[step["dataset"]]
        subset = step["subset"]
        if subset and subset["images"]:
            unknown = subset_unknown_names(dataset_id=dataset.pk, names=subset["images"])
            if unknown:
                problems.append(
                    f"steps[{index}].subset.images: {', '.join(map(repr, unknown[:5]))}"
                    f"{f' and {len(unknown) - 5} more' if len(unknown) > 5 else ''} are not images of {dataset.slug!r}"
                )
        if subset:
            found = len(subset_images(dataset_id=dataset.pk, subset=subset))
            if found < step["images"]:
                problems.append(
                    f"steps[{index}].subset: {found} images of {dataset.slug!r} are in it, but the phase hands each "
                    f"participant {step['images']}: take more images into the subset, or hand out fewer"
                )
        target, under = step["per_condition"], len(conditions[step["dataset"]]) or between
        cap = dataset.annotators_per_image
        if target is not None and cap is not None and cap < target * under:
            problems.append(
                f"steps[{index}].per_condition: {target} under each of {under} conditions needs "
                f"{target * under} annotators per image, but {dataset.slug!r} takes {cap}: raise its target in admin, "
                "or clear it"
            )
    return problems


def _phase_catches(step: dict) -> int:
    catch = step.get("catch")
    if not catch:
        return 0
    return catch_count(images=step["images"], rate=catch["rate"], count=catch["count"], slots=catch["slots"])


def _set_settings(study: Study, spec: dict, datasets: dict[str, Dataset]) -> None:
    study.title = spec["title"]
    study.description = spec["description"]
    study.status = spec["status"]
    study.closes_at = datetime.fromisoformat(spec["closes_at"]) if spec["closes_at"] else None
    study.max_participants = spec["max_participants"]
    study.time_limit_minutes = spec["time_limit_minutes"]
    study.withdrawal = spec["withdrawal"]
    study.phase_order = spec["assignment"]["phase_order"]
    study.platform = spec["platform"]
    study.guidance_columns = spec["guidance_columns"]
    catch = spec["catch"]
    study.catch_dataset = datasets[catch["dataset"]] if catch else None
    if catch:
        study.catch_threshold = catch["threshold"]
        study.catch_min_trials = catch["min_trials"]
        study.catch_min_iou = catch["min_iou"]
        study.catch_action = catch["action"]


# Keys of a step that have columns of their own; the rest go into Step.config.
STEP_COLUMNS = {"type", "title", "text", "version", "dataset", "condition", "image_seconds"}


def _step(study: Study, position: int, item: dict, datasets, conditions) -> Step:
    kind = item["type"]
    if kind == "annotation":
        image_count, own = item["images"], STEP_COLUMNS | {"images"}
    elif kind == "practice":
        image_count, own = len(item["images"]) or item["count"], STEP_COLUMNS
    else:
        image_count, own = None, STEP_COLUMNS
    step = Step(
        study=study,
        position=position,
        kind=kind,
        title=item["title"],
        text=item["text"],
        version=item.get("version", ""),
        dataset=datasets[item["dataset"]] if item.get("dataset") else None,
        condition=conditions[item["condition"]] if item.get("condition") else None,
        image_count=image_count,
        image_seconds=item.get("image_seconds"),
        config={key: value for key, value in item.items() if key not in own},
    )
    step.full_clean(exclude=["study", "dataset", "condition"])
    return step


def _changed_settings(study: Study, spec: dict) -> list[str]:
    from ..selectors.studies import study_file

    current = study_file(study)
    return [key for key in spec if key not in ("seed", "eyetagger_study") and current.get(key) != spec[key]]


def _update_settings(study: Study, spec: dict) -> StudyImportReport:
    """Update a study that has participants: only the settings that do not change what they go through."""
    changed = _changed_settings(study, spec)
    fixed = [key for key in changed if key not in SETTINGS_EDITABLE_WITH_PARTICIPANTS]
    if spec["seed"] is not None and spec["seed"] != study.seed:
        fixed.append("seed")
    if fixed:
        raise ValidationError(
            [
                f"the study {study.slug!r} has participants, so its {', '.join(fixed)} cannot change: what they go "
                "through must stay as it was. Import the file under a new slug to run a changed study."
            ],
            code="study_has_participants",
        )
    study.title = spec["title"]
    study.description = spec["description"]
    study.status = spec["status"]
    study.closes_at = datetime.fromisoformat(spec["closes_at"]) if spec["closes_at"] else None
    study.max_participants = spec["max_participants"]
    study.full_clean()
    study.save()
    return StudyImportReport(study=study, created=False, changed=changed)


@transaction.atomic
def study_set_status(*, study: Study, status: str) -> Study:
    """Open, pause, close or reopen the study."""
    if status not in Study.Status.values:
        raise ValidationError({"status": f"must be one of {', '.join(Study.Status.values)}; got {status!r}"})
    Study.objects.filter(pk=study.pk).update(status=status)
    study.status = status
    return study
