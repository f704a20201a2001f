"""Annotation phases over a subset of their dataset, their images balanced under each condition (study_phases)."""

from collections import Counter

import pytest
from django.core.exceptions import ValidationError

from backend.api import services, studyfile
from backend.api.models import Dataset, Image, Participant, Step, Study, Trial
from backend.api.selectors.studies import study_file
from backend.api.selectors.study_phases import phase_candidates

from .study_fixtures import participant_client, study_spec
from .test_participation_api import do_trials, go_to_practice

# In the test datasets, ai_label is "fake" for the images 0, 3, 6 and 9 of study-main.
FAKE_BY_AI = {"images/main_00.png", "images/main_03.png", "images/main_06.png", "images/main_09.png"}


def phase_spec(**phase):
    """Return a study file whose one annotation phase (no catch images) has these settings."""
    spec = study_spec()
    spec["steps"][4] = {"type": "annotation", "title": "Part 1", "dataset": "study-main", "images": 2, **phase}
    spec.pop("catch")
    return spec


def import_phase(**phase):
    return services.study_import(text=studyfile.write_study(studyfile.canonical(phase_spec(**phase)))).study


def phase_images_of(client, count=2):
    """Take a new participant through to the phase; return the paths of the images the phase gives them."""
    go_to_practice(client)
    do_trials(client, 2)  # practice
    trials = client.get(f"/api/participation/trials/?ahead={count}").json()["trials"]
    return [Image.objects.get(pk=t["image"]["id"]).path for t in trials]


# --- The study file -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subset", "problem"),
    [
        ({"column": "ai_label"}, "column and values go together"),
        ({"values": ["fake"]}, "column and values go together"),
        ({"column": "ai_label", "values": ["fake"], "images": ["main_00.png"]}, "not both"),
        ({}, "not both"),
        ({"column": "ai_label", "values": ["fake"], "where": "x"}, "unknown key(s) where"),
    ],
)
def test_a_subset_is_a_column_and_its_values_or_named_images(subset, problem):
    with pytest.raises(studyfile.StudyFileInvalid) as raised:
        studyfile.canonical(phase_spec(subset=subset))
    assert any(p.startswith("steps[4].subset") and problem in p for p in raised.value.problems), raised.value.problems


def test_a_target_per_condition_needs_conditions():
    spec = phase_spec(per_condition=2)
    spec["conditions"], spec["assignment"] = [], {}
    with pytest.raises(studyfile.StudyFileInvalid) as raised:
        studyfile.canonical(spec)
    assert "steps[4].per_condition: needs conditions: it is a target under each condition" in raised.value.problems


def test_a_subset_and_target_survive_the_round_trip_through_the_database(study_datasets):
    study = import_phase(subset={"column": "ai_label", "values": ["fake"]}, per_condition=1)

    written = study_file(study)["steps"][4]
    assert written["subset"] == {"column": "ai_label", "values": ["fake"], "images": []}
    assert written["per_condition"] == 1
    again = services.study_import(text=studyfile.write_study(study_file(study)))
    assert not again.created and again.changed == []


@pytest.mark.parametrize(
    ("phase", "problem"),
    [
        ({"subset": {"column": "ai_label", "values": ["none"]}}, "steps[4].subset: 0 images of 'study-main' are in"),
        ({"subset": {"images": ["main_00.png"]}}, "steps[4].subset: 1 images of 'study-main' are in it"),
        ({"subset": {"images": ["main_00.png", "nope.png"]}}, "steps[4].subset.images: 'nope.png' are not images"),
        ({"per_condition": 2}, "needs 4 annotators per image, but 'study-main' takes 3"),
    ],
)
def test_import_refuses_a_subset_too_small_or_unknown_and_a_target_the_dataset_cannot_hold(
    study_datasets, phase, problem
):
    with pytest.raises(ValidationError) as raised:
        import_phase(**phase)
    assert any(problem in message for message in raised.value.messages), raised.value.messages


# --- Handing out ------------------------------------------------------------------------------------


def test_a_phase_hands_out_only_the_images_whose_metadata_column_holds_a_value(study_datasets):
    import_phase(subset={"column": "ai_label", "values": ["fake"]})
    seen = Counter()
    for i in range(4):
        client, _ = participant_client(PROLIFIC_PID=f"subset-{i}")
        paths = phase_images_of(client)
        assert len(paths) == 2 and set(paths) <= FAKE_BY_AI
        seen.update(paths)
    assert set(seen) == FAKE_BY_AI  # the fill level spreads them over the subset


def test_a_phase_hands_out_only_the_images_it_names(study_datasets):
    import_phase(subset={"images": ["main_05.png", "main_07", "images/main_11.png"]})
    client, _ = participant_client(PROLIFIC_PID="named")
    paths = phase_images_of(client, count=3)
    assert len(paths) == 2 and set(paths) <= {"images/main_05.png", "images/main_07.png", "images/main_11.png"}


def test_each_image_gets_its_annotations_under_each_condition_not_only_overall(study_datasets):
    Dataset.objects.filter(slug="study-main").update(annotators_per_image=None)
    import_phase(subset={"column": "ai_label", "values": ["fake"]}, per_condition=2)
    given = {}
    for i in range(8):
        client, _ = participant_client(PROLIFIC_PID=f"balance-{i}")
        given[i] = phase_images_of(client)
        trials = Trial.objects.filter(kind=Trial.Kind.MAIN).select_related("image", "condition")
        under = Counter((t.image.path, t.condition.slug) for t in trials)
        # After each pair of participants (one per condition), every image is as often under one condition as the other.
        per_condition = [Counter(under[p, c] for p in FAKE_BY_AI) for c in ("no-help", "ai-saliency")]
        if i % 4 == 3:
            assert per_condition[0] == per_condition[1] == Counter({(i + 1) // 4: 4})
    assert all(n == 2 for n in under.values()) and len(under) == 8  # 4 images x 2 conditions, 2 each: the target
    # The ninth finds every image at its target under their condition: the phase ends early for them.
    client, _ = participant_client(PROLIFIC_PID="balance-late")
    go_to_practice(client)
    do_trials(client, 2)
    assert client.get("/api/participation/trials/").json()["trials"] == []
    late = Participant.objects.get(platform_ids__participant="balance-late")
    assert client.get("/api/participation/").json()["current"]["kind"] == "finish"
    assert late.design["ended_early"] == [late.sequence[4]]


def test_the_order_within_a_phase_is_each_participant_s_own_and_follows_from_the_seed(study_datasets):
    import_phase(subset={"column": "ai_label", "values": ["fake", "real"]})
    first, second = (services.participant_enrol(slug="iris-test", params={}).participant for _ in range(2))
    step = Step.objects.get(pk=first.sequence[4])
    order = phase_candidates(first, step)
    assert sorted(order) == sorted(Image.objects.filter(dataset__slug="study-main").values_list("pk", flat=True))
    assert phase_candidates(first, step) == order  # the same draws again
    assert phase_candidates(second, step) != order  # 12 images: the same order by chance is one in 479,001,600
    Study.objects.filter(pk=first.study_id).update(seed=first.study.seed + 1)
    first.refresh_from_db()
    assert phase_candidates(first, step) != order


def test_a_phase_without_subset_or_target_is_left_to_the_queue(study):
    participant = services.participant_enrol(slug="iris-test", params={}).participant
    assert phase_candidates(participant, Step.objects.get(pk=participant.sequence[4])) is None
