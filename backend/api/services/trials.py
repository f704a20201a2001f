"""Writes on trials: handing a participant the images of their step, and saving their work on each.

A practice step hands out its named images in order; an annotation phase hands out images from the
assignment queue (``queue_next``, the same hand-out as annotators get, under the same leases and
targets; from its subset, balanced by condition, if it has them: ``study_phases``) with catch images
at the participant's catch slots. Saving goes through ``annotation_save`` (the whole document) or
``annotation_change`` (what changed since a version), so a participant's work is an ordinary
annotation; the trial records what the study adds: its place, condition, guidance shown and
toggled, and the catch or practice verdict.

Lock order: the participant's row (``participant_lock``) first, then whatever the queue and
``annotation_save`` or ``annotation_change`` take. ``queue_next`` runs outside the participant's
lock, in transactions of its own, as the queue requires (it releases expired leases in a
transaction of its own).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import exporting
from ..models import Annotation, Image, Participant, Step, Trial
from ..selectors import studies as study_selectors
from ..selectors.study_phases import phase_candidates
from .annotations import AnnotationChange, AnnotationContent, annotation_change, annotation_save
from .participants import advance, current_step, participant_lock, refuse_unless_active
from .queue import ImageUnavailable, queue_next
from .studies import StudyRefusal

MAX_AHEAD = 20  # most trials handed out ahead of the current one (the queue's own limit)
IMAGE_TIME_GRACE_MS = 5000  # slack past a per-image time limit for the last points of a stroke


@dataclass(frozen=True)
class TrialBatch:
    """The participant's open trials of their step, in order (the one to do now first), or none when it is done."""

    participant: Participant
    step: Step
    trials: tuple[Trial, ...]
    finished: bool  # the step had nothing more for them, and they moved on to their next step


def _on_image_step(participant_id: int, now: datetime) -> tuple[Participant, Step]:
    participant = participant_lock(participant_id)
    refuse_unless_active(participant, now=now)
    _, step = current_step(participant)
    if not step.has_images:
        raise StudyRefusal(
            "not_an_images_step",
            f"You are on step {participant.step_index + 1} ({step.title}), which has no images. Reload the page.",
        )
    return participant, step


def trial_hand_out(*, participant_id: int, ahead: int = 0, now: datetime | None = None) -> TrialBatch:
    """Return the participant's image to do now in their step and up to ``ahead`` more, handing out new ones as needed.

    Open trials come back first (a reload, another device), then new ones at the next places
    of the step: practice images in their order, catch images at the participant's catch slots
    (in their own random order, never one they saw), and the queue's images for the rest (a
    lease each, renewed by every hand-out). When the step has nothing more (every place done,
    or the queue has no image left for them), they move on to their next step.
    """
    now = now or timezone.now()
    want = 1 + max(0, min(int(ahead), MAX_AHEAD))
    with transaction.atomic():
        participant, step = _on_image_step(participant_id, now)
        plan = _fill(participant, step, want=want, main_images=[])
        if not plan.main_wanted:
            return _batch(participant, step, plan, exhausted=False, now=now)
    # The queue's images, outside the participant's lock. It answers the images already leased to
    # them first (their open trials), so ask for those and as many new ones as are wanted; new ones
    # from the phase's subset, balanced by condition, when its study file says so.
    handout = queue_next(
        dataset=step.dataset,
        annotator=participant.user,
        now=now,
        ahead=min(MAX_AHEAD, plan.held + plan.main_wanted - 1),
        among=phase_candidates(participant, step),
    )
    images = [image for image in (handout.image, *handout.ahead) if image is not None]
    with transaction.atomic():
        participant, now_on = _on_image_step(participant_id, now)
        if now_on.pk != step.pk:  # another tab finished the step meanwhile
            return _batch(participant, now_on, _fill(participant, now_on, want=want, main_images=[]), False, now)
        plan = _fill(participant, step, want=want, main_images=images)
        return _batch(participant, step, plan, exhausted=handout.image is None, now=now)


@dataclass
class _Plan:
    open: list[Trial]  # the step's open trials after filling, in order
    main_wanted: int  # places that need an image from the queue and did not get one
    held: int  # open trials of the queue's images (leased to the participant)
    complete: bool  # every place of the step is taken by a trial that was not lost


def _fill(participant: Participant, step: Step, *, want: int, main_images: list[Image]) -> _Plan:
    """Hand out new trials at the step's next places until ``want`` are open, or the images run out."""
    trials = study_selectors.trials_of_step(participant=participant, step=step)
    open_trials = [trial for trial in trials if trial.status == Trial.Status.OPEN]
    slot = study_selectors.first_unfinished_position(trials)
    position = trials[-1].position + 1 if trials else 1
    units = study_selectors.step_units(participant, step)
    catch_slots = set(study_selectors.catch_slots_of(participant, step))
    seen = study_selectors.catch_images_used(participant)
    from_queue = iter([image for image in main_images if image.pk not in seen])
    condition = study_selectors.condition_of(participant, step)
    main_wanted = 0
    while len(open_trials) < want and slot <= units:
        if step.kind == Step.Kind.PRACTICE:
            image, kind = study_selectors.practice_images(step)[slot - 1], Trial.Kind.PRACTICE
        elif slot in catch_slots:
            image, kind = _next_catch(participant, seen), Trial.Kind.CATCH
        else:
            image, kind = next(from_queue, None), Trial.Kind.MAIN
            if image is None:
                window = range(slot, min(units, slot + want - len(open_trials) - 1) + 1)
                main_wanted = sum(1 for s in window if s not in catch_slots)
                break
        trial = Trial(
            participant=participant,
            step=step,
            position=position,
            kind=kind,
            image=image,
            condition=condition if kind != Trial.Kind.PRACTICE else None,
            guidance=study_selectors.guidance_shown(participant.study, condition, image)
            if kind != Trial.Kind.PRACTICE
            else {},
        )
        try:
            with transaction.atomic():
                trial.save()
        except IntegrityError:
            # The image is one of their trials already (a catch image cannot be: it is drawn among the
            # unseen). Never twice to one participant: leave it, and let its lease run out.
            continue
        seen.add(image.pk)
        open_trials.append(trial)
        position += 1
        slot += 1
    held = sum(1 for trial in open_trials if trial.kind == Trial.Kind.MAIN)
    return _Plan(open=open_trials, main_wanted=main_wanted, held=held, complete=slot > units)


def _next_catch(participant: Participant, seen: set[int]) -> Image:
    """Return the next catch image in the participant's own order that they have not seen."""
    catch_dataset = participant.study.catch_dataset
    unseen = [image for image in catch_dataset.images.only("pk", "sha256") if image.pk not in seen]
    if not unseen:
        raise StudyRefusal("no_catch_images", "This study has run out of catch images; tell its researchers.")
    first = study_selectors.order_by_participant(participant, unseen, "catch")[0]
    return Image.objects.select_related("dataset").get(pk=first.pk)


def _batch(participant: Participant, step: Step, plan: _Plan, exhausted: bool, now: datetime) -> TrialBatch:
    """Return the open trials; with none open and nothing more to hand out, move the participant on."""
    if plan.open or not (plan.complete or exhausted):
        return TrialBatch(participant, step, tuple(plan.open), finished=False)
    if not plan.complete:  # the queue had no image left for them before every place was filled
        participant.design = {
            **participant.design,
            "ended_early": [*participant.design.get("ended_early", []), step.pk],
        }
    advance(participant, step, now=now)
    participant.save()
    return TrialBatch(participant, step, (), finished=True)


# --- Saving -------------------------------------------------------------------------------------------


def trial_save(
    *,
    participant_id: int,
    trial_id: int,
    content: AnnotationContent,
    base_version: int,
    started_at: datetime | None = None,
    active_ms: int | None = None,
    client: dict | None = None,
    guidance_events: list | None = None,
    timed_out: bool = False,
    now: datetime | None = None,
) -> tuple[Trial, Annotation, bool]:
    """Save the participant's work on a trial's image, the whole document; return (trial, annotation, changed).

    The annotation is saved by ``annotation_save`` (versions, conflicts, the queue's lease and
    target). Submitting finishes the trial: a catch or practice image is judged against its
    known answer (and reference mask), and the last image of the step moves the participant on.
    ``timed_out``: the image's time limit ran out; the trial finishes with whatever it holds.
    A finished trial does not change any more (a retry of the same content is answered as
    saved). An image whose lease ran out while others filled it raises ImageUnavailable, and
    the trial is marked lost (another takes its place).
    """
    write = _TrialWrite(
        save=partial(
            annotation_save,
            content=content,
            base_version=base_version,
            started_at=started_at,
            active_ms=active_ms,
            client=client,
        ),
        answer_when_finished=partial(_saved_before, content=content),
        strokes=content.strokes,
        submits=content.status == Annotation.Status.SUBMITTED,
    )
    return _trial_write(participant_id, trial_id, write, guidance_events, timed_out, now or timezone.now())


def trial_change(
    *,
    participant_id: int,
    trial_id: int,
    change: AnnotationChange,
    base_version: int,
    started_at: datetime | None = None,
    active_ms: int | None = None,
    client: dict | None = None,
    guidance_events: list | None = None,
    timed_out: bool = False,
    now: datetime | None = None,
) -> tuple[Trial, Annotation, bool]:
    """Save what changed in the participant's work on a trial's image; return (trial, annotation, changed).

    As ``trial_save``, but the annotation is changed by ``annotation_change`` (docs/strokes.md,
    "Incremental saves"): only the appended strokes are checked against the step's time limit
    per image. A finished trial answers a retry of its last change (the same ``op``), or a change
    that changes nothing, as saved; it refuses any other change.
    """
    write = _TrialWrite(
        save=partial(
            annotation_change,
            change=change,
            base_version=base_version,
            started_at=started_at,
            active_ms=active_ms,
            client=client,
        ),
        answer_when_finished=partial(_changed_before, change=change),
        strokes=change.append,
        submits=change.fields.get("status") == Annotation.Status.SUBMITTED,
    )
    return _trial_write(participant_id, trial_id, write, guidance_events, timed_out, now or timezone.now())


@dataclass(frozen=True)
class _TrialWrite:
    """What a whole save or a change does to a trial's annotation; the steps they share are ``_trial_write``'s."""

    # annotation_save or annotation_change with their arguments but the image and the annotator
    save: Callable[..., tuple[Annotation, bool]]
    answer_when_finished: Callable[[Trial], Annotation]  # a finished trial's answer to a retry; refuses anything else
    strokes: list  # the strokes it draws (checked against the step's time limit per image)
    submits: bool  # it sets the status to submitted


def _trial_write(
    participant_id: int,
    trial_id: int,
    write: _TrialWrite,
    guidance_events: list | None,
    timed_out: bool,
    now: datetime,
) -> tuple[Trial, Annotation, bool]:
    """Write on the participant's trial under their lock as ``trial_save`` says; return (trial, annotation, changed)."""
    with transaction.atomic():
        participant = participant_lock(participant_id)
        trial = _trial_of(participant, trial_id)
        if trial.status != Trial.Status.OPEN:
            return trial, write.answer_when_finished(trial), False  # a retry of what is saved
        refuse_unless_active(participant, now=now)
        _check_time(trial.step, write.strokes)
        if guidance_events is not None:
            trial.guidance_events = guidance_events
        timed_out = timed_out and not write.submits  # submitted in time after all
        annotation, changed, lost = _save_on_trial(participant, trial, write, timed_out=timed_out, now=now)
        trial.save()
        participant.last_seen_at = now
        if trial.status in (Trial.Status.SUBMITTED, Trial.Status.TIMED_OUT):
            _advance_if_done(participant, trial.step, now=now)
        participant.save()
    if lost is not None:
        raise lost
    return trial, annotation, changed


def _trial_of(participant: Participant, trial_id: int) -> Trial:
    """Return the participant's trial with its image, step and annotation, or refuse with a 404."""
    trial = (
        Trial.objects.select_related("image__dataset", "step__dataset", "annotation")
        .filter(participant=participant, pk=trial_id)
        .first()
    )
    if trial is None:
        raise StudyRefusal("no_trial", f"There is no image {trial_id} of yours in this study.", status=404)
    return trial


def _saved_before(trial: Trial, content: AnnotationContent) -> Annotation:
    """Return a finished trial's annotation if it holds this content already; refuse any change to it."""
    stored = trial.annotation
    if stored is not None and AnnotationContent.of(stored) == content:
        return stored
    raise _finished()


def _changed_before(trial: Trial, change: AnnotationChange) -> Annotation:
    """Return a finished trial's annotation if the change is its last one again or changes nothing; refuse others."""
    stored = trial.annotation
    if stored is not None:
        retry = bool(change.op) and change.op == stored.last_op
        unchanged = not change.remove and not change.append
        if retry or (unchanged and change.content_after(stored) == AnnotationContent.of_fields(stored)):
            return stored
    raise _finished()


def _finished() -> StudyRefusal:
    return StudyRefusal("trial_finished", "You have finished this image; it cannot change any more.")


def _save_on_trial(
    participant: Participant, trial: Trial, write: _TrialWrite, *, timed_out: bool, now: datetime
) -> tuple[Annotation | None, bool, ImageUnavailable | None]:
    """Save the annotation and finish the trial if it is submitted or timed out; return (annotation, changed, lost).

    ``lost``: the image's lease ran out while others filled it; the trial is marked lost, and the
    caller raises it once the trial is stored.
    """
    try:
        with transaction.atomic():
            annotation, changed = write.save(image=trial.image, annotator=participant.user)
    except ImageUnavailable as error:
        trial.status = Trial.Status.LOST
        trial.finished_at = now
        return None, False, error
    trial.annotation = annotation
    if annotation.status == Annotation.Status.SUBMITTED or timed_out:
        trial.status = Trial.Status.SUBMITTED if not timed_out else Trial.Status.TIMED_OUT
        trial.finished_at = now
        _judge(participant, trial, annotation)
    return annotation, changed, None


def _check_time(step: Step, strokes: list) -> None:
    """Refuse strokes drawn after the step's time limit per image (their points' t count from the image's opening)."""
    if not step.image_seconds or not strokes:
        return
    latest = max(stroke["points"][-1][2] for stroke in strokes)
    if latest > step.image_seconds * 1000 + IMAGE_TIME_GRACE_MS:
        raise ValidationError(
            {
                "strokes": ValidationError(
                    f"a stroke was drawn {latest / 1000:.0f} s after the image was opened; this step allows "
                    f"{step.image_seconds} s per image",
                    code="image_time_up",
                )
            }
        )


def _judge(participant: Participant, trial: Trial, annotation: Annotation) -> None:
    """Judge a practice or catch trial against the image's known answer and reference mask; count catch results."""
    if trial.kind == Trial.Kind.MAIN:
        return
    image = trial.image
    trial.correct = exporting.is_correct(annotation.label, image.ground_truth) if image.dataset.choices else None
    trial.iou = study_selectors.reference_iou(image, annotation)
    if trial.kind != Trial.Kind.CATCH:
        return
    study = participant.study
    judged = [verdict for verdict in (trial.correct,) if verdict is not None]
    if trial.iou is not None and study.catch_min_iou is not None:
        judged.append(trial.iou >= study.catch_min_iou)
    if not judged:
        return  # nothing known to judge it by
    trial.passed = all(judged)
    participant.catch_judged += 1
    participant.catch_passed += int(trial.passed)
    participant.flagged = (
        participant.catch_judged >= study.catch_min_trials
        and participant.catch_passed / participant.catch_judged < study.catch_threshold
    )


def _advance_if_done(participant: Participant, step: Step, *, now: datetime) -> None:
    """Move the participant on once every place of their current step is finished."""
    _, current = current_step(participant)
    if current.pk != step.pk:
        return
    done = study_selectors.finished_trials(participant=participant, step=step)
    if done >= study_selectors.step_units(participant, step):
        advance(participant, step, now=now)
