"""Reads of studies: the study file of a study, who counts towards its balance, and a participant's place in it.

The research side (dashboard, exports, participants table) reads through here too: every
participant's draws are in ``Participant.design``, every image they saw is a ``Trial`` row
linked to its ``Annotation``, so those tables are joins, not computations (see docs/STUDIES.md).
"""

import math
from datetime import datetime, timedelta
from urllib.parse import quote

from django.db.models import Count, QuerySet
from django.utils import timezone
from rest_framework.exceptions import NotFound

from .. import agreement, design, files, links, markup, masks, studyfile
from ..models import Annotation, Condition, Dataset, Image, ImageAttachment, Participant, Step, Study, Trial
from .strokes import annotation_strokes

# How long after the study's time limit a participant's requests are still taken: the last
# save of work done in time may arrive a little late.
TIME_LIMIT_GRACE = timedelta(seconds=60)


def study_file(study: Study) -> dict:
    """Return the study's canonical form (``studyfile``): write it out and import it again for the same study."""
    conditions = list(study.conditions.order_by("position"))
    by_id = {condition.pk: condition for condition in conditions}
    steps = []
    for step in study.steps.select_related("dataset").order_by("position"):
        item = {"type": step.kind, "title": step.title, "text": step.text, **step.config}
        if step.kind == Step.Kind.CONSENT:
            item["version"] = step.version
        if step.dataset_id is not None:
            item["dataset"] = step.dataset.slug
        if step.kind == Step.Kind.ANNOTATION:
            item["images"] = step.image_count
            item["condition"] = by_id[step.condition_id].slug if step.condition_id else None
        if step.has_images:
            item["image_seconds"] = step.image_seconds
        steps.append(item)
    catch = None
    if study.catch_dataset_id is not None:
        catch = {
            "dataset": study.catch_dataset.slug,
            "threshold": study.catch_threshold,
            "min_trials": study.catch_min_trials,
            "min_iou": study.catch_min_iou,
            "action": study.catch_action,
        }
    data = {
        "eyetagger_study": studyfile.FORMAT_VERSION,
        "slug": study.slug,
        "title": study.title,
        "description": study.description,
        "status": study.status,
        "closes_at": study.closes_at.isoformat() if study.closes_at else None,
        "max_participants": study.max_participants,
        "time_limit_minutes": study.time_limit_minutes,
        "withdrawal": study.withdrawal,
        "seed": study.seed,
        "platform": study.platform or None,
        "guidance_columns": study.guidance_columns or None,
        "conditions": [
            {
                "slug": c.slug,
                "name": c.name,
                "description": c.description,
                "show": c.shows,
                "placement": c.placement,
                "toggle": c.toggle,
            }
            for c in conditions
        ],
        "assignment": {"between": [c.slug for c in conditions if c.between], "phase_order": study.phase_order},
        "catch": catch,
        "steps": steps,
    }
    return studyfile.canonical(data)


def study_link(study: Study, *, params: dict[str, str], expires: datetime | None = None) -> str:
    """Return the study's link (path and query) for these platform ids; signed when the study signs its links.

    ``params`` are by the study's parameter names (e.g. ``PROLIFIC_PID``); unknown names are refused
    (ValueError), since the server would not read them.
    """
    names = {name for name in (study.platform or {}).get("params", {}).values() if name}
    unknown = sorted(set(params) - names)
    if unknown:
        raise ValueError(f"the study reads {', '.join(sorted(names)) or 'no parameters'}; not {', '.join(unknown)}")
    path = f"/s/{study.slug}/"
    if not (study.platform or {}).get("signed"):
        query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params.items() if v)
        return f"{path}?{query}" if query else path
    return f"{path}?{links.signed_query(study.secret, params, sorted(names), expires=expires)}"


def study_is_open(study: Study, *, now: datetime) -> bool:
    """Return whether someone may enrol now (open, and not past its close date)."""
    return study.status == Study.Status.OPEN and (study.closes_at is None or study.closes_at > now)


def participant_deadline(participant: Participant) -> datetime | None:
    """Return when the participant's time to finish the study runs out, or None without a time limit."""
    minutes = participant.study.time_limit_minutes
    return participant.enrolled_at + timedelta(minutes=minutes) if minutes else None


def counting_participants(*, study: Study, now: datetime) -> QuerySet[Participant]:
    """Return the participants who hold a place and count towards the balance of conditions and phase orders.

    Everyone but those who dropped out (withdrew, or let the study's time limit pass without
    finishing), those excluded, and test participants.
    """
    rows = study.participants.filter(excluded=False, is_test=False).filter(
        status__in=[Participant.Status.ACTIVE, Participant.Status.COMPLETED]
    )
    if study.time_limit_minutes:
        late = now - timedelta(minutes=study.time_limit_minutes)
        rows = rows.exclude(status=Participant.Status.ACTIVE, enrolled_at__lt=late)
    return rows


def balance_counts(*, study: Study, now: datetime) -> tuple[int, dict[int, int], dict[int, int]]:
    """Return (participants counting, of them per condition id, per phase-order row), in one query."""
    rows = (
        counting_participants(study=study, now=now)
        .order_by()
        .values("condition_id", "order_row")
        .annotate(n=Count("pk"))
    )
    total, conditions, orders = 0, {}, {}
    for row in rows:
        total += row["n"]
        if row["condition_id"] is not None:
            conditions[row["condition_id"]] = conditions.get(row["condition_id"], 0) + row["n"]
        if row["order_row"] is not None:
            orders[row["order_row"]] = orders.get(row["order_row"], 0) + row["n"]
    return total, conditions, orders


def participant_steps(participant: Participant) -> list[Step]:
    """Return the participant's steps in their own order (annotation phases as counterbalanced for them)."""
    steps = Step.objects.filter(study_id=participant.study_id).select_related("dataset", "condition").in_bulk()
    return [steps[pk] for pk in participant.sequence]


def catch_slots_of(participant: Participant, step: Step) -> list[int]:
    """Return the places of catch images in the step for this participant (drawn at enrolment)."""
    return participant.design.get("catch_slots", {}).get(str(step.pk), [])


def step_units(participant: Participant, step: Step) -> int:
    """Return how much of the study's progress bar the step takes: its images (catch ones too), else 1."""
    if not step.has_images:
        return 1
    return (step.image_count or 0) + len(catch_slots_of(participant, step))


def condition_of(participant: Participant, step: Step) -> Condition | None:
    """Return the condition the participant annotates the step under: the step's own, else theirs."""
    if step.kind != Step.Kind.ANNOTATION:
        return None
    return step.condition if step.condition_id else participant.condition


def finished_trials(*, participant: Participant, step: Step) -> int:
    """Return how many of the step's images the participant has finished (submitted, or out of time)."""
    return Trial.objects.filter(
        participant=participant, step=step, status__in=[Trial.Status.SUBMITTED, Trial.Status.TIMED_OUT]
    ).count()


def participant_progress(participant: Participant, steps: list[Step]) -> dict:
    """Return the progress bar's figures across the whole study: {done, total} in units (``step_units``)."""
    total = sum(step_units(participant, step) for step in steps)
    done = sum(step_units(participant, step) for step in steps[: participant.step_index])
    if participant.step_index < len(steps):
        current = steps[participant.step_index]
        if current.has_images:
            done += finished_trials(participant=participant, step=current)
    if participant.status == Participant.Status.COMPLETED:
        done = total
    return {"done": min(done, total), "total": total}


def example_url(step: Step, name: str) -> str | None:
    """Return the address of an instructions step's example image, or None if the step has no such example."""
    if name not in step.config.get("examples", {}):
        return None
    return f"/api/participation/steps/{step.pk}/examples/{name}"


def guidance_of(condition: Condition | None) -> dict | None:
    """Return what a condition shows, as the participant's page needs it (never the condition's name)."""
    if condition is None or not condition.shows:
        return None
    return {
        "ai_label": condition.show_ai_label,
        "ai_confidence": condition.show_ai_confidence,
        "ai_saliency": condition.show_ai_saliency,
        "placement": condition.placement,
        "toggle": condition.toggle,
    }


def step_view(participant: Participant, step: Step) -> dict:
    """Return what the participant's page shows for a step; nothing a participant may not see before its time."""
    view = {"id": step.pk, "kind": step.kind, "title": step.title, "html": markup.render(step.text)}
    if step.kind == Step.Kind.CONSENT:
        view["version"] = step.version
    elif step.kind == Step.Kind.INSTRUCTIONS:
        view["html"] = markup.render(step.text, example_url=lambda name: example_url(step, name))
        view["min_seconds"] = step.config.get("min_seconds", 0)
    elif step.kind == Step.Kind.QUESTIONNAIRE:
        view["fields"] = step.config.get("fields", [])
    elif step.has_images:
        dataset = step.dataset
        view.update(
            dataset=dataset.pk,
            question=dataset.question,
            choices=dataset.choices,
            required={"choice": dataset.require_choice, "mask": dataset.require_mask, "text": dataset.require_text},
            images=step_units(participant, step),
            image_seconds=step.image_seconds,
            feedback=bool(step.config.get("feedback")) if step.kind == Step.Kind.PRACTICE else False,
            guidance=guidance_of(condition_of(participant, step)),
        )
    # A finish step's completion code and redirect are given only by finishing (services.participant_finish).
    return view


def participant_state(participant: Participant, *, now: datetime | None = None) -> dict:
    """Return everything the participant's pages need: the study, their steps, where they are, their progress."""
    now = now or timezone.now()
    study = participant.study
    steps = participant_steps(participant)
    deadline = participant_deadline(participant)
    current = steps[participant.step_index] if participant.step_index < len(steps) else None
    state = {
        "study": {"slug": study.slug, "title": study.title, "status": study.status},
        "participant": {
            "pseudonym": participant.pseudonym,
            "status": participant.status,
            "enrolled_at": participant.enrolled_at,
            "deadline": deadline,
            "time_up": bool(deadline and now > deadline and participant.status == Participant.Status.ACTIVE),
            "withdrawal": study.withdrawal,
        },
        "steps": [
            {"index": index, "kind": step.kind, "title": step.title, "units": step_units(participant, step)}
            for index, step in enumerate(steps)
        ],
        "index": participant.step_index,
        "current": step_view(participant, current) if current and participant.status == "active" else None,
        "progress": participant_progress(participant, steps),
        "completion": completion_of(participant, steps) if participant.status == Participant.Status.COMPLETED else None,
    }
    return state


def completion_of(participant: Participant, steps: list[Step]) -> dict:
    """Return the completion code and the platform's redirect of a participant who finished."""
    finish = next(step for step in steps if step.kind == Step.Kind.FINISH)
    return {
        "code": participant.completion_code,
        "redirect": redirect_url(finish.config.get("redirect"), participant=participant),
        "html": markup.render(finish.text),
    }


def redirect_url(template: str | None, *, participant: Participant) -> str | None:
    """Return the platform's completion address with the code (and the ids the study keeps) filled in."""
    if not template:
        return None
    params = participant.study.platform.get("params", {})
    ids = participant.platform_ids or {}
    values = {
        "code": participant.completion_code,
        "participant": ids.get(params.get("participant", ""), ""),
        "study": ids.get(params.get("study", ""), ""),
        "session": ids.get(params.get("session", ""), ""),
    }
    url = template
    for name, value in values.items():
        url = url.replace("{" + name + "}", quote(value, safe=""))
    return url


def catch_images_used(participant: Participant) -> set[int]:
    """Return the ids of the images the participant has been shown (catch images are never shown twice)."""
    return set(participant.trials.values_list("image_id", flat=True))


def trials_of_step(*, participant: Participant, step: Step) -> list[Trial]:
    """Return the participant's trials of the step in their order, with their images."""
    return list(Trial.objects.filter(participant=participant, step=step).select_related("image").order_by("position"))


def first_unfinished_position(trials: list[Trial]) -> int:
    """Return the next place in a step's sequence: one past the trials that were not lost."""
    return sum(1 for trial in trials if trial.status != Trial.Status.LOST) + 1


def order_by_participant(participant: Participant, images, what: str) -> list:
    """Return images in the participant's own stable random order (for catch images)."""
    seed = participant.study.seed
    return sorted(images, key=lambda image: design.order_key(seed, f"{what}:{participant.number}", image.sha256))


def practice_images(step: Step) -> list[Image]:
    """Return a practice step's images in their order: those it names, else the first ones of its dataset."""
    names = step.config.get("images") or []
    if not names:
        images = Image.objects.filter(dataset_id=step.dataset_id).select_related("dataset").order_by("position", "pk")
        return list(images[: step.image_count])
    return [image for image in (image_named(step.dataset, name) for name in names) if image is not None]


def guidance_shown(study: Study, condition: Condition | None, image: Image) -> dict:
    """Return what the condition shows with this image, from its data: the AI's label and confidence, its map."""
    if condition is None or not condition.shows:
        return {}
    columns = study.guidance_columns or studyfile.DEFAULT_GUIDANCE_COLUMNS
    shown = {"placement": condition.placement, "toggle": condition.toggle}
    if condition.show_ai_label:
        shown["ai_label"] = image.metadata.get(columns["label"]) or None
    if condition.show_ai_confidence:
        shown["ai_confidence"] = _number(image.metadata.get(columns["confidence"]))
    if condition.show_ai_saliency:
        shown["ai_saliency"] = image.attachments.filter(kind=ImageAttachment.Kind.AI_SALIENCY).exists()
    return shown


def _number(value) -> float | None:
    """Return a metadata value as a number (metadata.csv holds text), or None."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def attachment_of(image: Image, kind: str) -> ImageAttachment | None:
    """Return the image's attachment of this kind (its AI saliency map, its reference mask), or None."""
    return ImageAttachment.objects.filter(image=image, kind=kind).select_related("image__dataset").first()


def reference_iou(image: Image, annotation: Annotation) -> float | None:
    """Return the IoU of an annotation's mask with the image's reference mask; None without one (or both empty)."""
    reference = attachment_of(image, ImageAttachment.Kind.REFERENCE_MASK)
    if reference is None:
        return None
    try:
        expected = masks.mask_from_picture(files.image_read(reference), image.width, image.height)
    except (ValueError, NotFound):
        return None  # the file went missing or bad since it was imported: nothing to judge by
    drawn = masks.annotation_mask(
        mask_rle=annotation.mask_rle,
        strokes=None if annotation.mask_rle else annotation_strokes(annotation),
        width=image.width,
        height=image.height,
    )
    return agreement.iou(int((drawn & expected).sum()), int((drawn | expected).sum()))


def practice_feedback(trial: Trial) -> dict:
    """Return the feedback on a practice trial: the known answer, theirs, and the reference mask if there is one."""
    annotation = trial.annotation
    has_reference = ImageAttachment.objects.filter(image=trial.image, kind=ImageAttachment.Kind.REFERENCE_MASK).exists()
    return {
        "answer": trial.image.ground_truth,
        "your_answer": annotation.label if annotation else None,
        "correct": trial.correct,
        "iou": trial.iou,
        "reference_mask_url": f"/api/participation/images/{trial.image_id}/reference-mask" if has_reference else None,
    }


def example_image(step: Step, name: str) -> Image | None:
    """Return the image an instructions step shows as its example ``name``, or None."""
    example = step.config.get("examples", {}).get(name)
    if step.kind != Step.Kind.INSTRUCTIONS or example is None:
        return None
    dataset = Dataset.objects.filter(slug=example["dataset"]).first()
    if dataset is None:
        return None
    return image_named(dataset, example["file"])


def image_named(dataset, name: str) -> Image | None:
    """Return the dataset's image a study file names: by file name, with or without its extension or images/."""
    name = name.removeprefix("./").removeprefix("images/")
    path = f"images/{name}"
    image = Image.objects.select_related("dataset").filter(dataset=dataset, path=path).first()
    if image is None and "." not in name.rsplit("/", 1)[-1]:
        matches = list(Image.objects.select_related("dataset").filter(dataset=dataset, path__startswith=path + ".")[:2])
        image = matches[0] if len(matches) == 1 else None
    return image
