"""Importing study files (service and command), their datasets' checks, and exporting them back."""

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from backend.api import services, studyfile
from backend.api.models import Condition, ImageAttachment, Step, Study
from backend.api.selectors.studies import study_file

from .study_fixtures import study_spec, study_text


def test_a_study_file_creates_the_study_its_conditions_and_steps(study_datasets):
    report = services.study_import(text=study_text())
    study = report.study
    assert report.created and study.status == "open" and study.slug == "iris-test"
    assert [(c.slug, c.between, c.show_ai_saliency) for c in study.conditions.all()] == [
        ("no-help", True, False),
        ("ai-saliency", True, True),
    ]
    steps = list(study.steps.all())
    assert [s.kind for s in steps] == ["consent", "instructions", "questionnaire", "practice", "annotation", "finish"]
    assert steps[0].version == "v1" and steps[3].image_count == 2 and steps[4].image_count == 2
    assert steps[4].dataset == study_datasets["main"] and steps[4].config["catch"]["slots"] == [2]
    assert study.catch_dataset == study_datasets["catch"]


def test_a_study_exported_and_imported_again_is_the_same_study(study):
    exported = studyfile.write_study(study_file(study))
    assert study_file(study) == studyfile.canonical({**study_spec(), "seed": study.seed})
    Study.objects.filter(pk=study.pk).update(slug="old")
    again = services.study_import(text=exported).study
    assert study_file(again) == {**study_file(Study.objects.get(slug="old")), "slug": "iris-test"}
    assert again.seed == study.seed  # the same draws


def test_importing_the_same_file_again_changes_nothing(study):
    report = services.study_import(text=study_text())
    assert not report.created and report.changed == []


def test_a_study_without_participants_may_change_entirely(study):
    report = services.study_import(text=study_text(title="New title", withdrawal="delete"))
    assert set(report.changed) == {"title", "withdrawal"}
    assert Study.objects.get().withdrawal == "delete"
    assert Step.objects.filter(study=study).count() == 6 and Condition.objects.filter(study=study).count() == 2


def test_a_study_with_participants_keeps_its_protocol_but_its_settings_may_change(study):
    services.participant_enrol(slug="iris-test", params={})
    report = services.study_import(text=study_text(title="Renamed", status="paused", max_participants=5))
    assert set(report.changed) == {"title", "status", "max_participants"}
    with pytest.raises(ValidationError) as refused:
        services.study_import(text=study_text(withdrawal="delete", conditions=[{"slug": "no-help"}],
                                              assignment={"between": ["no-help"]}))  # fmt: skip
    message = refused.value.messages[0]
    assert "has participants, so its withdrawal, conditions, assignment cannot change" in message
    assert Study.objects.get().withdrawal == "keep" and Condition.objects.count() == 2


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"catch": {"dataset": "nowhere"}}, "catch.dataset: there is no dataset 'nowhere'; import it first"),
        ({"catch": {"dataset": "study-main"}}, "'study-main' is also an annotation step's dataset"),
    ],
)
def test_datasets_must_exist_and_keep_to_their_role(study_datasets, changes, expected):
    with pytest.raises(ValidationError) as refused:
        services.study_import(text=study_text(**changes))
    assert any(expected in message for message in refused.value.messages), refused.value.messages
    assert Study.objects.count() == 0


def test_practice_and_example_images_must_be_in_their_dataset(study_datasets):
    spec = study_spec()
    spec["steps"][1]["examples"]["eye"]["file"] = "ghost.png"
    spec["steps"][3]["images"] = ["practice_00.png", "practice_09"]
    with pytest.raises(ValidationError) as refused:
        services.study_import(text=studyfile.write_study(studyfile.canonical(spec)))
    messages = refused.value.messages
    assert any("steps[3].images: 'practice_09' is not an image of the dataset 'study-practice'" in m for m in messages)
    assert any("steps[1].examples.eye.file: 'ghost.png' is not an image" in m for m in messages)


def test_a_practice_dataset_with_a_target_is_refused(study_datasets):
    practice = study_datasets["practice"]
    practice.annotators_per_image = 2
    practice.save()
    with pytest.raises(ValidationError) as refused:
        services.study_import(text=study_text())
    assert "has a target of 2 annotators per image" in refused.value.messages[0]


def test_more_catch_images_than_the_catch_dataset_holds_are_refused(study_datasets):
    spec = study_spec()
    spec["steps"][4]["catch"] = {"count": 5}
    with pytest.raises(ValidationError) as refused:
        services.study_import(text=studyfile.write_study(studyfile.canonical(spec)))
    assert "each participant sees 5 catch images, but 'study-catch' has 4" in refused.value.messages[0]


def test_the_commands_import_and_export_a_study(study_datasets, tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text(study_text())
    out = io.StringIO()
    call_command("import_study", str(path), stdout=out)
    assert "Created study 'Where do you look?'" in out.getvalue() and "/s/iris-test/" in out.getvalue()
    out = io.StringIO()
    call_command("export_study", "iris-test", stdout=out)
    assert studyfile.read_study(out.getvalue())["slug"] == "iris-test"
    out = io.StringIO()
    call_command("export_study", "iris-test", "--format", "json", stdout=out)
    assert out.getvalue().startswith("{")


def test_the_commands_say_what_is_wrong(study_datasets, tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text(study_text(status="running"))
    with pytest.raises(CommandError, match="status: must be one of draft, open, paused, closed"):
        call_command("import_study", str(path))
    with pytest.raises(CommandError, match="cannot be read"):
        call_command("import_study", str(tmp_path / "missing.yaml"))
    with pytest.raises(CommandError, match="there is no study 'nope'"):
        call_command("export_study", "nope")


def test_the_worked_example_imports_with_its_demo_datasets(db, settings):
    # The demo study's datasets, as make run imports them (deploy/make_demo_study.py made them).
    from pathlib import Path

    repository = Path(__file__).resolve().parents[3]
    settings.DATASET_ROOT = repository / "data"
    for role in ("main", "practice", "catch"):
        services.dataset_import(
            folder=repository / "data" / "demo-study" / role,
            slug=f"demo-study-{role}",
            name=f"Demo study {role}",
            choices=["real", "fake"],
            access="chosen",
        )
    study = services.study_import(text=(repository / "docs" / "examples" / "iris-saliency-study.yaml").read_text())
    assert study.study.steps.count() == 7
    assert ImageAttachment.objects.filter(kind="ai_saliency").count() == 20  # 16 main and 4 catch images
    assert ImageAttachment.objects.filter(kind="reference_mask").count() == 7
