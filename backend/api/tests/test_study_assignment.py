"""Assignment over many enrolments: conditions balanced between subjects, phase orders counterbalanced, all recorded."""

import threading
from collections import Counter

import pytest
from django.db import connection

from backend.api import design, services, studyfile
from backend.api.models import Participant, Step, Study
from backend.api.selectors.studies import condition_of, participant_steps

from .study_fixtures import study_spec


def four_conditions(**changes):
    spec = study_spec(**changes)
    spec["conditions"] = [{"slug": s} for s in ("none", "label", "map", "both")]
    spec["assignment"] = {"between": ["none", "label", "map", "both"]}
    return studyfile.write_study(studyfile.canonical(spec))


def enrol(n, slug="iris-test"):
    return [services.participant_enrol(slug=slug, params={"PROLIFIC_PID": f"{slug}-{i}"}).participant for i in range(n)]


def test_conditions_stay_within_one_participant_of_each_other(study_datasets):
    services.study_import(text=four_conditions())
    counts = Counter()
    for participant in enrol(22):
        counts[participant.condition.slug] += 1
        assert max(counts.values()) - min(counts[c] for c in ("none", "label", "map", "both")) <= 1
    assert sorted(counts.values()) == [5, 5, 6, 6]


def test_each_draw_is_recorded_and_can_be_recomputed_from_the_seed(study_datasets):
    services.study_import(text=four_conditions(seed=12345))
    for participant in enrol(9):
        record = participant.design["condition"]
        assert record["chosen"] == participant.condition.slug and participant.design["seed"] == 12345
        tied = record["tied"]
        assert (
            record["chosen"] == tied[design.draw(12345, "condition", participant.number, len(tied))] or len(tied) == 1
        )
        assert all(record["counts"][c] == min(record["counts"].values()) for c in tied)


def test_the_same_seed_assigns_the_same_conditions(study_datasets):
    services.study_import(text=four_conditions(seed=777))
    services.study_import(text=four_conditions(seed=777, slug="again"))
    services.study_import(text=four_conditions(seed=778, slug="other"))
    first = [p.condition.slug for p in enrol(12)]
    assert first == [p.condition.slug for p in enrol(12, slug="again")]
    assert first != [p.condition.slug for p in enrol(12, slug="other")]


def test_participants_who_dropped_out_do_not_count_towards_the_balance(study_datasets):
    services.study_import(text=four_conditions())
    participants = enrol(4)
    gone = participants[0]
    services.participant_withdraw(participant_id=gone.pk)
    services.participant_set_excluded(participant_id=participants[1].pk, excluded=True)
    newcomers = [
        services.participant_enrol(slug="iris-test", params={"PROLIFIC_PID": f"late-{i}"}).participant for i in range(2)
    ]
    assert {p.condition_id for p in newcomers} == {gone.condition_id, participants[1].condition_id}


def within_subject(**changes):
    """Three phases, each under its own condition, their order counterbalanced."""
    spec = study_spec(**changes)
    spec["conditions"] = [{"slug": s} for s in ("a", "b", "c")]
    spec["assignment"] = {"between": [], "phase_order": "latin-square"}
    phase = spec["steps"][4]
    spec["steps"][4:5] = [{**phase, "title": f"Phase {c}", "condition": c} for c in ("a", "b", "c")]
    return studyfile.write_study(studyfile.canonical(spec))


def test_phase_orders_follow_a_latin_square_over_participants(study_datasets):
    study = services.study_import(text=within_subject()).study
    phases = list(study.steps.filter(kind=Step.Kind.ANNOTATION).order_by("position"))
    square = design.williams_square(3)
    rows = Counter()
    for participant in enrol(12):
        assert participant.condition is None
        rows[participant.order_row] += 1
        steps = Step.objects.in_bulk(participant.sequence)
        order = [steps[pk] for pk in participant.sequence if steps[pk].kind == Step.Kind.ANNOTATION]
        assert order == [phases[i] for i in square[participant.order_row]]
        assert [steps[pk].kind for pk in participant.sequence][:4] == ["consent", "instructions", "questionnaire",
                                                                        "practice"]  # fmt: skip
        assert participant.design["phase_order"]["square"] == square
    assert rows == {row: 2 for row in range(6)}  # 12 participants over the 6 rows of a 3-phase Williams design


def test_each_phase_shows_its_own_condition_within_subject(study_datasets):
    services.study_import(text=within_subject())
    participant = enrol(1)[0]
    conditions = [condition_of(participant, s).slug for s in participant_steps(participant) if s.kind == "annotation"]
    assert sorted(conditions) == ["a", "b", "c"]


def test_catch_slots_are_drawn_per_participant_and_recorded(study_datasets):
    spec = study_spec()
    spec["steps"][4] = {**spec["steps"][4], "images": 10, "catch": {"count": 2}}
    services.study_import(text=studyfile.write_study(studyfile.canonical(spec)))
    participants = enrol(10)
    phase = Study.objects.get().steps.get(kind="annotation")
    slots = [tuple(p.design["catch_slots"][str(phase.pk)]) for p in participants]
    assert all(len(s) == 2 and 2 <= s[0] < s[1] <= 12 for s in slots)
    assert len(set(slots)) > 3
    assert slots[3] == tuple(design.catch_slots(images=10, catches=2, seed=Study.objects.get().seed,
                                                number=participants[3].number, what=f"catch:{phase.pk}"))  # fmt: skip


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_participants_enrolling_at_once_get_distinct_numbers_and_balanced_conditions(dataset_root):
    from .study_fixtures import write_study_datasets

    write_study_datasets(dataset_root, main_images=4)
    services.study_import(text=four_conditions())
    errors = []

    def worker(start):
        try:
            for i in range(start, start + 10):
                services.participant_enrol(slug="iris-test", params={"PROLIFIC_PID": f"w{i}"})
        except Exception as error:  # reported below: any failure fails the test
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n * 10,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    numbers = list(Participant.objects.values_list("number", flat=True))
    assert sorted(numbers) == list(range(1, 41))
    counts = Counter(Participant.objects.values_list("condition__slug", flat=True))
    assert set(counts.values()) == {10}
