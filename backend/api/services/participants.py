"""Writes on participants: enrolling by the study link, going through the steps, finishing, withdrawing.

Every write of one participant takes their row's lock first (``participant_lock``), so two tabs
never complete a step twice; it comes before any lock of the queue (see services/queue/__init__.py), so
lock order stays one order everywhere. Refusals are ``StudyRefusal`` (a 4xx with a code) or
``ValidationError``, raised before anything is written.
"""

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from .. import design, links, studyfile
from ..models import Annotation, Assignment, Participant, Profile, Step, Study
from ..selectors import studies as study_selectors
from .studies import StudyRefusal
from .users import user_set_test

PLATFORM_ID = re.compile(r"^[A-Za-z0-9_.:@-]{1,128}$")
MAX_PARAMS = 30
MAX_PARAM_LENGTH = 200


@dataclass(frozen=True)
class Enrolment:
    """A participant arriving by the study link: new, or returning (same browser or same platform id)."""

    participant: Participant
    created: bool


# --- Enrolling --------------------------------------------------------------------------------


def participant_enrol(*, slug: str, params: dict, caller=None, now: datetime | None = None) -> Enrolment:
    """Enrol a visitor of the study link, or return the participant they already are.

    ``params`` are the link's query parameters (the crowd platform's ids); ``caller`` the
    signed-in user, if any. The same browser (a participant session of this study) and the same
    platform participant id come back to the same participant, on whatever step they were; a
    platform id never enrols twice. Refused, storing nothing: an unknown study (404), a link
    whose parameters are malformed or name another study (400 invalid_link), a visitor signed
    in with an EyeTagger account (409 signed_in), a study not open, past its close date or full.
    """
    now = now or timezone.now()
    study = Study.objects.filter(slug=slug).first()
    if study is None:
        raise StudyRefusal("no_study", f"There is no study {slug[:100]!r}. Check the link you were given.", status=404)
    ids = _link_ids(study, params)
    key = _platform_key(study, ids.get("participant"))
    current = getattr(caller, "participant", None) if caller is not None and caller.is_authenticated else None
    resuming = current is not None and current.study_id == study.pk and not params  # a reload of the study's page
    if (study.platform or {}).get("signed") and not resuming:
        _check_signature(study, params, now=now)
    if caller is not None and caller.is_authenticated and current is None:
        raise StudyRefusal(
            "signed_in",
            f"You are signed in to EyeTagger as {caller.username}. Sign out, or open the study link in a private "
            "window, to take part as a participant.",
        )
    if current is not None and current.study_id == study.pk and key in (None, current.platform_key):
        return Enrolment(current, False)
    if key is not None:
        existing = Participant.objects.filter(study=study, platform_key=key).first()
        if existing is not None:
            return Enrolment(existing, False)
    return _enrol_new(study_id=study.pk, ids=ids, key=key, now=now)


def _link_ids(study: Study, params: dict) -> dict[str, str]:
    """Return the platform's ids from the link's parameters ({participant, study, session}), or refuse the link."""
    if len(params) > MAX_PARAMS:
        raise _invalid_link(None, f"the link has {len(params)} parameters; at most {MAX_PARAMS} are read")
    for name, value in params.items():
        if not isinstance(value, str) or len(value) > MAX_PARAM_LENGTH or len(str(name)) > MAX_PARAM_LENGTH:
            raise _invalid_link(str(name)[:50], f"each parameter is text of at most {MAX_PARAM_LENGTH} characters")
    platform = study.platform or {}
    names = platform.get("params", {})
    ids = {}
    for role in ("participant", "study", "session"):
        name = names.get(role, "")
        value = params.get(name, "") if name else ""
        if value and not PLATFORM_ID.match(value):
            raise _invalid_link(name, "letters, digits and . _ - : @ only, at most 128 characters")
        if value:
            ids[role] = value
    if platform.get("require_participant") and "participant" not in ids:
        name = names.get("participant")
        raise _invalid_link(name, f"the link must carry your {name}; open the study from the platform's page")
    expected = platform.get("study_id")
    if expected and ids.get("study") != expected:
        raise _invalid_link(names.get("study"), "this link is for another study; open the study from its own page")
    return ids


def _check_signature(study: Study, params: dict, *, now: datetime) -> None:
    """Refuse (400) a link of a signed study whose signature is missing, does not match, or has expired."""
    names = list((study.platform or {}).get("params", {}).values())
    try:
        links.verify(study.secret, params, names, now=now)
    except links.LinkRefused as error:
        raise StudyRefusal(error.code, str(error), status=400) from None


def _invalid_link(name: str | None, why: str) -> StudyRefusal:
    subject = f"The link's {name} is not valid" if name else "The link is not valid"
    return StudyRefusal("invalid_link", f"{subject}: {why}.", status=400)


def _platform_key(study: Study, participant_id: str | None) -> str | None:
    """Return the key one platform participant id enrols under: SHA-256 of the study's secret and the id."""
    if not participant_id:
        return None
    return hashlib.sha256(f"{study.secret}:{participant_id}".encode()).hexdigest()


def refuse_unless_open(study: Study, *, now: datetime) -> None:
    """Raise StudyRefusal unless someone may enrol in the study now."""
    if study.status == Study.Status.DRAFT:
        raise StudyRefusal("study_not_open", "This study has not opened yet. Come back when it has.")
    if study.status == Study.Status.PAUSED:
        raise StudyRefusal("study_paused", "This study is paused and takes no one new right now. Try again later.")
    if study.status == Study.Status.CLOSED or (study.closes_at is not None and study.closes_at <= now):
        raise StudyRefusal("study_closed", "This study has closed and takes no one new. Thank you for your interest.")


@transaction.atomic
def _enrol_new(*, study_id: int, ids: dict, key: str | None, now: datetime) -> Enrolment:
    # The study's row is the enrolment lock: places, enrolment numbers and the balance are decided one at a time.
    study = Study.objects.select_for_update().get(pk=study_id)
    refuse_unless_open(study, now=now)
    if key is not None:
        existing = Participant.objects.filter(study=study, platform_key=key).first()
        if existing is not None:  # enrolled a moment ago by a request that held the lock first
            return Enrolment(existing, False)
    total, per_condition, per_row = study_selectors.balance_counts(study=study, now=now)
    if study.max_participants is not None and total >= study.max_participants:
        raise StudyRefusal("study_full", "This study has all the participants it needs. Thank you for your interest.")
    number = study.next_number
    plan = _draw(study, number=number, per_condition=per_condition, per_row=per_row)
    user = _new_user()
    participant = Participant(
        study=study,
        user=user,
        pseudonym=user.username,
        number=number,
        platform_key=key,
        platform_ids=ids if (study.platform or {}).get("keep_ids", True) else {},
        condition=plan["condition"],
        order_row=plan["order_row"],
        sequence=plan["sequence"],
        design=plan["record"],
        last_seen_at=now,
    )
    participant.full_clean(exclude=["study", "user", "condition"])
    participant.save()
    Study.objects.filter(pk=study.pk).update(next_number=F("next_number") + 1)
    return Enrolment(participant, True)


def _draw(study: Study, *, number: int, per_condition: dict, per_row: dict) -> dict:
    """Return the participant's condition, phase order and catch slots, with the record of each draw."""
    record: dict = {"number": number, "seed": study.seed}
    conditions = list(study.conditions.filter(between=True).order_by("position"))
    condition = None
    if conditions:
        counts = {c.slug: per_condition.get(c.pk, 0) for c in conditions}
        drawn = design.balanced_choice(
            [c.slug for c in conditions], counts, seed=study.seed, what="condition", number=number
        )
        condition = next(c for c in conditions if c.slug == drawn.chosen)
        record["condition"] = drawn.record()
    steps = list(study.steps.order_by("position"))
    phases = [step for step in steps if step.kind == Step.Kind.ANNOTATION]
    order_row = None
    if study.phase_order == Study.PhaseOrder.LATIN_SQUARE and len(phases) > 1:
        square = design.williams_square(len(phases))
        rows = [str(row) for row in range(len(square))]
        drawn = design.balanced_choice(
            rows, {str(r): n for r, n in per_row.items()}, seed=study.seed, what="phase-order", number=number
        )
        order_row = int(drawn.chosen)
        ordered = iter([phases[i] for i in square[order_row]])
        steps = [next(ordered) if step.kind == Step.Kind.ANNOTATION else step for step in steps]
        record["phase_order"] = {**drawn.record(), "square": square, "phases": [p.pk for p in phases]}
    slots = {}
    for step in phases:
        catch = step.config.get("catch")
        if not catch:
            continue
        count = design.catch_count(
            images=step.image_count, rate=catch.get("rate"), count=catch.get("count"), slots=catch.get("slots")
        )
        slots[str(step.pk)] = catch.get("slots") or design.catch_slots(
            images=step.image_count, catches=count, seed=study.seed, number=number, what=f"catch:{step.pk}"
        )
    if slots:
        record["catch_slots"] = slots
    return {"condition": condition, "order_row": order_row, "sequence": [s.pk for s in steps], "record": record}


def _new_user() -> User:
    """Create the participant's own user: named by a fresh pseudonym, with no password and no role."""
    for _ in range(10):
        user = User(username=design.new_pseudonym())
        user.set_unusable_password()
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError:
            continue  # that pseudonym is taken (about one chance in 10^11): draw another
        Profile.objects.get_or_create(user=user)
        return user
    raise RuntimeError("no free pseudonym after 10 draws")  # pragma: no cover


# --- Going through the steps ------------------------------------------------------------------------


def participant_lock(participant_id: int) -> Participant:
    """Return the participant locked until commit (every write of theirs takes it first), with their study and user."""
    return Participant.objects.select_for_update(of=("self",)).select_related("study", "user").get(pk=participant_id)


def refuse_unless_active(participant: Participant, *, now: datetime) -> None:
    """Raise StudyRefusal unless the participant may go on now (active, in time, their study not closed)."""
    if participant.status == Participant.Status.COMPLETED:
        raise StudyRefusal("already_completed", "You have already finished this study; thank you.")
    if participant.status == Participant.Status.WITHDRAWN:
        raise StudyRefusal("withdrawn", "You have withdrawn from this study.")
    if participant.study.status == Study.Status.CLOSED:
        raise StudyRefusal("study_closed", "This study has closed. Thank you for your time.")
    deadline = study_selectors.participant_deadline(participant)
    if deadline is not None and now > deadline + study_selectors.TIME_LIMIT_GRACE:
        raise StudyRefusal("time_up", "The time for this study has run out. Thank you for your time.")


def current_step(participant: Participant) -> tuple[list[Step], Step]:
    """Return the participant's steps and the one they are on."""
    steps = study_selectors.participant_steps(participant)
    return steps, steps[min(participant.step_index, len(steps) - 1)]


def advance(participant: Participant, step: Step, *, now: datetime) -> None:
    """Note the step as finished now and move the participant on to their next step (the caller saves)."""
    participant.step_times = {**participant.step_times, str(step.pk): now.isoformat()}
    participant.step_index += 1
    participant.last_seen_at = now


@dataclass(frozen=True)
class StepDone:
    """What completing a step did: ``declined`` when consent was refused (the participant is gone)."""

    participant: Participant | None
    declined: bool = False


def participant_complete_step(
    *, participant_id: int, index: int, payload: dict, now: datetime | None = None
) -> StepDone:
    """Complete the participant's step ``index`` (consent, instructions, questionnaire or finish) with its payload.

    ``index`` must be the step they are on: a step done already, or one not reached yet, is
    refused (409), so a replayed request changes nothing. Consent: ``{"agree": true, "version":
    ...}`` stores the version agreed to and when; ``{"agree": false}`` declines, and then
    nothing is kept of them but the study's count of refusals. Questionnaire: ``{"answers":
    {...}}`` checked against its questions. Finish: issues the completion code.
    """
    now = now or timezone.now()
    with transaction.atomic():
        participant = participant_lock(participant_id)
        refuse_unless_active(participant, now=now)
        steps, step = current_step(participant)
        if index != participant.step_index:
            done = index < participant.step_index
            raise StudyRefusal(
                "step_done" if done else "step_not_reached",
                f"You have {'already completed' if done else 'not reached'} step {index + 1}; you are on step "
                f"{participant.step_index + 1} ({step.title}). Reload the page.",
            )
        if step.has_images:
            raise StudyRefusal("images_step", f"Step {index + 1} ({step.title}) is done by annotating its images.")
        if step.kind == Step.Kind.CONSENT and not payload.get("agree"):
            declined = True
        else:
            declined = False
            _COMPLETERS[step.kind](participant, step, payload, now)
            if step.kind == Step.Kind.FINISH:
                _finish(participant, steps, now=now)
            else:
                advance(participant, step, now=now)
            participant.save()
    if declined:
        participant_delete(participant_id=participant_id, declined=True)
        return StepDone(None, declined=True)
    return StepDone(participant)


def _consent(participant: Participant, step: Step, payload: dict, now: datetime) -> None:
    if payload.get("agree") is not True:
        raise ValidationError({"agree": ValidationError("agree must be true or false.", code="invalid")})
    if payload.get("version") != step.version:
        raise StudyRefusal(
            "consent_changed",
            f"The consent text has changed (now version {step.version}) since this page was loaded. Reload the page "
            "and read it again.",
        )
    participant.consent_version = step.version
    participant.consented_at = now


def _instructions(participant: Participant, step: Step, payload: dict, now: datetime) -> None:
    wait = step.config.get("min_seconds", 0)
    if wait:
        since = _step_started(participant)
        if (now - since).total_seconds() < wait - 1:  # a second's slack for the clocks of two requests
            raise StudyRefusal("too_soon", f"Please take at least {wait} seconds to read the instructions.")


def _step_started(participant: Participant) -> datetime:
    """Return when the participant reached their current step: when they finished the one before, or enrolled."""
    if participant.step_index == 0 or not participant.step_times:
        return participant.enrolled_at
    return max(datetime.fromisoformat(moment) for moment in participant.step_times.values())


def _questionnaire(participant: Participant, step: Step, payload: dict, now: datetime) -> None:
    answers, problems = studyfile.check_answers(step.config.get("fields", []), payload.get("answers"))
    if problems:
        raise ValidationError(
            {f"answers.{name}": ValidationError(message, code="invalid") for name, message in problems}
        )
    participant.answers = {**participant.answers, **answers}


def _finish_payload(participant: Participant, step: Step, payload: dict, now: datetime) -> None:
    """Nothing to check: finishing needs only to be on the finish step, every other step done."""


_COMPLETERS = {
    Step.Kind.CONSENT: _consent,
    Step.Kind.INSTRUCTIONS: _instructions,
    Step.Kind.QUESTIONNAIRE: _questionnaire,
    Step.Kind.FINISH: _finish_payload,
}


def _finish(participant: Participant, steps: list[Step], *, now: datetime) -> None:
    """Complete the study: the completion code (the study's, or one of the participant's own), and exclusion."""
    finish = steps[participant.step_index]
    code = finish.config.get("completion_code", studyfile.PER_PARTICIPANT)
    participant.completion_code = design.new_code() if code == studyfile.PER_PARTICIPANT else code
    participant.status = Participant.Status.COMPLETED
    participant.completed_at = now
    participant.last_seen_at = now
    # They stay on the finish step, where the code is shown.
    participant.step_times = {**participant.step_times, str(finish.pk): now.isoformat()}
    if participant.flagged and participant.study.catch_action == Study.CatchAction.EXCLUDE:
        participant.excluded = True
        user_set_test(user=participant.user, is_test=True)


# --- Leaving, and being left out ----------------------------------------------------------------------


def participant_withdraw(*, participant_id: int, now: datetime | None = None) -> bool:
    """Withdraw the participant; return True if their data was deleted (the study's setting), False if kept.

    Kept: they are marked withdrawn (their submitted work stays, marked so in exports) and the
    images they held go back to others at once. Allowed at any time, after finishing too.
    """
    now = now or timezone.now()
    with transaction.atomic():
        participant = participant_lock(participant_id)
        if participant.status == Participant.Status.WITHDRAWN:
            return False
        if participant.study.withdrawal == Study.Withdrawal.DELETE:
            delete = True
        else:
            delete = False
            participant.status = Participant.Status.WITHDRAWN
            participant.withdrawn_at = now
            participant.save(update_fields=["status", "withdrawn_at"])
            _expire_leases(participant, now=now)
    if delete:
        participant_delete(participant_id=participant_id)
    return delete


def _expire_leases(participant: Participant, *, now: datetime) -> None:
    """End the participant's leases now: the queue's next hand-out releases them to others, as any expired lease."""
    Assignment.objects.filter(annotator=participant.user, status=Assignment.Status.LEASED).update(
        leased_until=now - timedelta(seconds=1)
    )


@transaction.atomic
def participant_delete(*, participant_id: int, declined: bool = False) -> None:
    """Delete everything of the participant: their annotations, trials, answers and user. Their images go to others.

    For a withdrawal (when the study says so), a request to delete their data, or a refused
    consent (``declined``: the study counts the refusal, and that is all it keeps).
    """
    participant = participant_lock(participant_id)
    user = participant.user
    # Their work leaves every count first (the queue's counters are rebuilt without it), then goes.
    user_set_test(user=user, is_test=True)
    Annotation.objects.filter(annotator=user).delete()
    study_id = participant.study_id
    participant.delete()
    user.delete()
    counter = "declined_count" if declined else "deleted_count"
    Study.objects.filter(pk=study_id).update(**{counter: F(counter) + 1})


@transaction.atomic
def participant_set_excluded(*, participant_id: int, excluded: bool) -> Participant:
    """Exclude the participant (or take them back): their work leaves counts, targets and exports; held images free."""
    participant = participant_lock(participant_id)
    if participant.excluded != excluded:
        participant.excluded = excluded
        participant.save(update_fields=["excluded"])
        user_set_test(user=participant.user, is_test=excluded or participant.is_test)
    return participant
