"""Reads for a study's researchers: its trials (every image shown, with its annotation) and its participants.

Both tables are joins of rows the study keeps as it runs (``Trial`` with its ``Annotation``,
``Participant`` with its draws and answers), streamed from a cursor; ``exporting`` writes them.
Excluded and test participants are left out unless asked for; withdrawn ones whose data was
kept are in, marked so.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import Count, QuerySet

from .. import exporting
from ..models import Annotation, Step, Study, Trial
from .strokes import annotation_strokes

CHUNK_ROWS = 1000

TRIAL_COLUMNS = (
    "trial_id", "study", "participant", "participant_number", "platform_participant", "participant_status", "excluded",
    "flagged", "condition", "phase", "step_position", "phase_order", "position", "kind", "image_id", "dataset",
    "file_name", "sha256", "ground_truth", "label", "correct", "text", "trial_status", "annotation_id",
    "annotation_status", "version", "guidance_ai_label", "guidance_ai_confidence", "guidance_ai_saliency",
    "guidance_placement", "guidance_toggle", "guidance_toggles", "guidance_events", "catch_passed", "iou",
    "handed_out_at", "started_at", "submitted_at", "finished_at", "active_ms", "stroke_count", "mask_area",
)  # fmt: skip

_TRIAL_FIELDS = (
    "pk", "participant__pseudonym", "participant__number", "participant__platform_ids",
    "participant__status", "participant__excluded", "participant__flagged", "participant__sequence",
    "condition__slug", "step__title", "step__position", "step_id", "position", "kind", "image_id",
    "image__dataset__slug", "image__path", "image__sha256", "image__ground_truth", "annotation__label",
    "correct", "annotation__text", "status", "annotation_id", "annotation__status", "annotation__version",
    "guidance", "guidance_events", "passed", "iou", "created_at", "annotation__started_at",
    "annotation__submitted_at", "finished_at", "annotation__active_ms", "annotation__stroke_count",
    "annotation__mask_area",
)  # fmt: skip


@dataclass(frozen=True)
class TrialSelection:
    """Which trials of a study to export; the defaults are every annotation-phase image of participants who count."""

    condition: str | None = None  # a condition's slug
    kind: str = "main"  # main, catch, practice or all
    include_excluded: bool = False
    include_test: bool = False


def study_trials(*, study: Study, selection: TrialSelection) -> QuerySet[Trial]:
    """Return the study's trials the selection picks, in the participants' order and theirs."""
    trials = Trial.objects.filter(participant__study=study)
    if selection.condition is not None:
        trials = trials.filter(condition__slug=selection.condition)
    if selection.kind != "all":
        trials = trials.filter(kind=selection.kind)
    if not selection.include_excluded:
        trials = trials.filter(participant__excluded=False)
    if not selection.include_test:
        trials = trials.filter(participant__is_test=False)
    return trials.order_by("participant__number", "step__position", "position")


def _phase_orders(steps: dict[int, Step], sequence: list[int]) -> dict[int, int]:
    """Return each annotation step's place (1 first) in a participant's own order of phases."""
    phases = [pk for pk in sequence if steps[pk].kind == Step.Kind.ANNOTATION]
    return {pk: index + 1 for index, pk in enumerate(phases)}


def study_trial_rows(*, study: Study, selection: TrialSelection) -> Iterator[list]:
    """Yield the cells of each selected trial, in the order of TRIAL_COLUMNS."""
    for cells, _ in _trial_records(study=study, selection=selection, with_strokes=False):
        yield cells


def study_trials_jsonl(*, study: Study, selection: TrialSelection) -> Iterator[str]:
    """Yield each selected trial as a line of JSON: the trial's columns and the strokes of its annotation."""
    for cells, strokes in _trial_records(study=study, selection=selection, with_strokes=True):
        row = {column: exporting.iso(value) if hasattr(value, "isoformat") else value
               for column, value in zip(TRIAL_COLUMNS, cells, strict=True)}  # fmt: skip
        row["guidance_events"] = json.loads(row["guidance_events"]) if row["guidance_events"] else []
        row["strokes"] = strokes
        yield json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n"


def _trial_records(*, study: Study, selection: TrialSelection, with_strokes: bool) -> Iterator[tuple[list, list]]:
    """Yield (cells, strokes) of each selected trial; strokes only ``with_strokes`` (they weigh ~10 KB each)."""
    steps = Step.objects.filter(study=study).in_bulk()
    participant_param = (study.platform or {}).get("params", {}).get("participant")
    fields = (*_TRIAL_FIELDS, "annotation__strokes", "annotation__chunked") if with_strokes else _TRIAL_FIELDS
    orders: dict[str, dict[int, int]] = {}
    values = study_trials(study=study, selection=selection).values_list(*fields)
    for record in values.iterator(chunk_size=100 if with_strokes else CHUNK_ROWS):
        row = dict(zip(fields, record, strict=True))
        pseudonym = row["participant__pseudonym"]
        if pseudonym not in orders:
            orders = {pseudonym: _phase_orders(steps, row["participant__sequence"])}  # one participant at a time
        cells = _trial_cells(
            row,
            study=study,
            platform_ids_kept=bool(participant_param),
            phase_order=orders[pseudonym].get(row["step_id"]),
        )
        yield cells, _trial_strokes(row)


def _trial_cells(row: dict, *, study: Study, platform_ids_kept: bool, phase_order: int | None) -> list:
    """Return a trial's cells in the order of TRIAL_COLUMNS, from its row of _TRIAL_FIELDS."""
    main = row["kind"] == Trial.Kind.MAIN
    return [
        row["pk"],
        study.slug,
        row["participant__pseudonym"],
        row["participant__number"],
        (row["participant__platform_ids"] or {}).get("participant") if platform_ids_kept else None,
        row["participant__status"],
        row["participant__excluded"],
        row["participant__flagged"],
        row["condition__slug"],
        row["step__title"],
        row["step__position"] + 1,
        phase_order,
        row["position"],
        row["kind"],
        row["image_id"],
        row["image__dataset__slug"],
        exporting.file_name(row["image__path"]),
        row["image__sha256"],
        row["image__ground_truth"],
        row["annotation__label"],
        exporting.is_correct(row["annotation__label"], row["image__ground_truth"]) if main else row["correct"],
        row["annotation__text"],
        row["status"],
        row["annotation_id"],
        row["annotation__status"],
        row["annotation__version"],
        *_guidance_cells(row["guidance"] or {}, row["guidance_events"] or []),
        row["passed"],
        row["iou"],
        row["created_at"],
        row["annotation__started_at"],
        row["annotation__submitted_at"],
        row["finished_at"],
        row["annotation__active_ms"],
        row["annotation__stroke_count"],
        row["annotation__mask_area"],
    ]


def _guidance_cells(guidance: dict, events: list) -> list:
    """Return the guidance a trial showed and how it was toggled, as the guidance_* columns of TRIAL_COLUMNS."""
    return [
        guidance.get("ai_label"),
        guidance.get("ai_confidence"),
        guidance.get("ai_saliency"),
        guidance.get("placement"),
        guidance.get("toggle"),
        len(events),
        json.dumps(events, separators=(",", ":")) if events else None,
    ]


def _trial_strokes(row: dict) -> list | None:
    """Return the strokes of a trial's annotation when they were read (``with_strokes``), else None."""
    strokes = row.get("annotation__strokes")
    if row.get("annotation__chunked"):  # saved incrementally (rare for a participant): read its chunks
        strokes = annotation_strokes(Annotation(pk=row["annotation_id"], chunked=True))
    return strokes


# --- Participants ----------------------------------------------------------------------------------


def participant_columns(study: Study) -> list[str]:
    """Return the participants table's header: fixed columns, the platform's ids if kept, each question."""
    questions = [
        field["name"]
        for step in study.steps.filter(kind=Step.Kind.QUESTIONNAIRE).order_by("position")
        for field in step.config.get("fields", [])
    ]
    return [*PARTICIPANT_COLUMNS, *(f"answer_{name}" for name in questions)]


PARTICIPANT_COLUMNS = (
    "participant", "number", "platform_participant", "platform_study", "platform_session", "status", "condition",
    "phase_order", "consent_version", "consented_at", "steps_reached", "steps", "last_step", "completion_code",
    "enrolled_at", "completed_at", "withdrawn_at", "total_seconds", "catch_judged", "catch_passed", "catch_score",
    "flagged", "excluded", "is_test", "images_done",
)  # fmt: skip


def study_participant_rows(*, study: Study, include_test: bool = True) -> Iterator[list]:
    """Yield the cells of each participant, in the order of ``participant_columns``."""
    steps = Step.objects.filter(study=study).in_bulk()
    questions = participant_columns(study)[len(PARTICIPANT_COLUMNS) :]
    participants = study.participants.select_related("condition").order_by("number")
    if not include_test:
        participants = participants.filter(is_test=False)
    done = dict(
        Trial.objects.filter(participant__study=study, status__in=[Trial.Status.SUBMITTED, Trial.Status.TIMED_OUT])
        .values_list("participant_id")
        .annotate(n=Count("pk"))
    )
    for participant in participants.iterator(chunk_size=CHUNK_ROWS):
        ids = participant.platform_ids or {}
        sequence = [steps[pk] for pk in participant.sequence]
        phases = [step.title for step in sequence if step.kind == Step.Kind.ANNOTATION]
        reached = min(participant.step_index + 1, len(sequence))
        end = participant.completed_at or participant.withdrawn_at or participant.last_seen_at
        answers = participant.answers or {}
        yield [
            participant.pseudonym,
            participant.number,
            ids.get("participant"),
            ids.get("study"),
            ids.get("session"),
            participant.status,
            participant.condition.slug if participant.condition else None,
            " > ".join(phases),
            participant.consent_version or None,
            participant.consented_at,
            reached,
            len(sequence),
            sequence[reached - 1].title if sequence else None,
            participant.completion_code or None,
            participant.enrolled_at,
            participant.completed_at,
            participant.withdrawn_at,
            round((end - participant.enrolled_at).total_seconds(), 1) if end else None,
            participant.catch_judged,
            participant.catch_passed,
            participant.catch_score,
            participant.flagged,
            participant.excluded,
            participant.is_test,
            done.get(participant.pk, 0),
            *(_answer(answers.get(name[len("answer_") :])) for name in questions),
        ]


def _answer(value):
    """Return an answer as one cell: a multiple choice as its choices joined by "; "."""
    return "; ".join(value) if isinstance(value, list) else value


def participant_records(study: Study) -> Iterator[dict]:
    """Yield each participant as a JSON-ready dict (the participants table's JSON form)."""
    columns = participant_columns(study)
    for cells in study_participant_rows(study=study):
        yield {column: exporting.iso(value) if hasattr(value, "isoformat") else value
               for column, value in zip(columns, cells, strict=True)}  # fmt: skip
