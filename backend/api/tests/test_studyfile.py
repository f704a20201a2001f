"""Study files: reading YAML and JSON into the canonical form, every problem named by its path, and back."""

from pathlib import Path

import pytest
import yaml

from backend.api import markup, studyfile

from .study_fixtures import study_spec

EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "examples" / "iris-saliency-study.yaml"


def problems_of(spec) -> list[str]:
    with pytest.raises(studyfile.StudyFileInvalid) as caught:
        studyfile.canonical(spec)
    return caught.value.problems


def test_the_worked_example_reads():
    study = studyfile.read_study(EXAMPLE.read_text())
    assert study["slug"] == "iris-demo"
    assert [step["type"] for step in study["steps"]] == [
        "consent", "instructions", "questionnaire", "practice", "annotation", "annotation", "finish"
    ]  # fmt: skip
    assert study["platform"]["params"] == {"participant": "PROLIFIC_PID", "study": "STUDY_ID", "session": "SESSION_ID"}
    assert study["conditions"][2]["show"] == ["ai_saliency"]


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_a_study_written_out_reads_back_the_same(fmt):
    study = studyfile.read_study(EXAMPLE.read_text())
    assert studyfile.read_study(studyfile.write_study(study, fmt=fmt)) == study


def test_markdown_texts_are_written_as_blocks():
    text = studyfile.write_study(studyfile.read_study(EXAMPLE.read_text()))
    assert "text: |\n    ## Taking part" in text


def test_defaults_are_filled_in():
    study = studyfile.canonical(study_spec())
    assert study["withdrawal"] == "keep" and study["status"] == "open"
    assert study["assignment"]["phase_order"] == "fixed"
    assert study["steps"][0]["title"] == "Consent"
    assert study["steps"][-1]["completion_code"] == "per-participant"
    assert study["platform"]["keep_ids"] is True


@pytest.mark.parametrize(
    "platform, participant, study_param",
    [("prolific", "PROLIFIC_PID", "STUDY_ID"), ("mturk", "workerId", "hitId"), ("none", "", "")],
)
def test_each_platform_has_its_parameter_names(platform, participant, study_param):
    study = studyfile.canonical(study_spec(platform={"name": platform}))
    assert study["platform"]["params"]["participant"] == participant
    assert study["platform"]["params"]["study"] == study_param
    assert study["platform"]["require_participant"] == (platform != "none")


def test_parameter_names_can_be_changed():
    study = studyfile.canonical(study_spec(platform={"name": "prolific", "params": {"participant": "pid"}}))
    assert study["platform"]["params"] == {"participant": "pid", "study": "STUDY_ID", "session": "SESSION_ID"}


def without_step(kind):
    spec = study_spec()
    spec["steps"] = [step for step in spec["steps"] if step["type"] != kind]
    return spec


def with_step(index, **changes):
    spec = study_spec()
    spec["steps"][index] = {**spec["steps"][index], **changes}
    return spec


CASES = [
    (study_spec(slug="Not A Slug"), "slug: 'Not A Slug' is not valid"),
    (study_spec(status="running"), "status: must be one of draft, open, paused, closed"),
    (study_spec(colour="blue"), "unknown key(s) colour"),
    (study_spec(eyetagger_study=2), "eyetagger_study: this EyeTagger reads study files of format 1"),
    (study_spec(closes_at="2027-03-01T00:00:00"), "closes_at: must say its time zone"),
    (study_spec(closes_at="soon"), "closes_at: must be a date and time"),
    (study_spec(max_participants=0), "max_participants: must be from 1"),
    (study_spec(platform={"name": "mechanical"}), "platform.name: must be one of prolific, mturk, none"),
    (study_spec(platform={"name": "none", "require_participant": True}), "needs platform.params.participant"),
    (study_spec(platform={"name": "prolific", "params": {"participant": "a b"}}), "platform.params.participant"),
    (study_spec(conditions=[{"slug": "a"}, {"slug": "a"}]), "conditions[1].slug: 'a' is the slug of an earlier"),
    (study_spec(conditions=[{"slug": "a", "show": ["ai_mind"]}]), "'ai_mind' is not guidance EyeTagger shows"),
    (study_spec(conditions=[{"slug": "a", "show": ["ai_confidence"]}]), "ai_confidence is shown with ai_label"),
    (study_spec(assignment={"between": ["nobody"]}), "assignment.between: 'nobody' is not one of the conditions"),
    (study_spec(assignment={"between": []}), "steps[4] names no condition, so participants need one"),
    (study_spec(catch=None), "steps[4].catch: catch images need the study's catch settings"),
    (study_spec(catch={"dataset": "c", "threshold": 2}), "catch.threshold: must be from 0 to 1"),
    (study_spec(steps=[]), "steps: must be a list of steps"),
    (with_step(0, type="survey"), "steps[0].type: must be one of consent, instructions"),
    (with_step(0, version=None), "steps[0].version: is required"),
    (with_step(0, text=""), "steps[0].text: must not be empty"),
    (with_step(0, colour="red"), "steps[0]: unknown key(s) colour"),
    (with_step(1, text="![x](example:nope)"), "steps[1].text: example:nope is not in steps[1].examples"),
    (with_step(2, fields=[]), "steps[2].fields: must be a list of questions"),
    (with_step(2, fields=[{"name": "a", "label": "A", "type": "single"}]), "a single-choice question needs choices"),
    (with_step(2, fields=[{"name": "a", "label": "A", "type": "range"}]), "steps[2].fields[0].type: must be one of"),
    (with_step(2, fields=[{"name": "a b", "label": "A"}]), "steps[2].fields[0].name: 'a b' is not valid"),
    (with_step(2, fields=[{"name": "a", "label": "A", "type": "number", "min": 5, "max": 1}]), "must not be below min"),
    (with_step(2, fields=[{"name": "a", "label": "A", "choices": ["x"]}]), "choices: does not apply to a text"),
    (with_step(3, images=[], count=None), "steps[3].images: name the practice images, or give count"),
    (with_step(3, count=2), "steps[3].count: give images (by file name) or count"),
    (with_step(4, images=0), "steps[4].images: must be from 1"),
    (with_step(4, condition="ghost"), "steps[4].condition: 'ghost' is not one of the conditions"),
    (with_step(4, catch={"count": 1, "rate": 0.1}), "steps[4].catch: give one of count"),
    (with_step(4, catch={"slots": [9]}), "steps[4].catch.slots: places must be within the phase's 3 images"),
    (with_step(4, catch={"slots": [1]}), "steps[4].catch.slots[0]: must be from 2"),
    (with_step(5, completion_code="no spaces"), "steps[5].completion_code: 'no spaces' is not valid"),
    (with_step(5, redirect="javascript:alert(1)"), "steps[5].redirect: must be an http(s) address"),
    (with_step(5, redirect="https://x.org/?cc={secret}"), "{secret} is not a value EyeTagger fills in"),
    (without_step("finish"), "a study ends with exactly one finish step"),
    (without_step("annotation"), "a study needs at least one annotation step"),
    (study_spec(assignment={"between": ["no-help"], "phase_order": "latin-square"}), "needs at least two annotation"),
]


@pytest.mark.parametrize("spec, expected", CASES, ids=[expected[:40] for _, expected in CASES])
def test_each_problem_is_named_by_its_path(spec, expected):
    problems = problems_of(spec)
    assert any(expected in problem for problem in problems), problems


def test_every_problem_is_reported_at_once():
    problems = problems_of(study_spec(slug="X X", status="running", max_participants=-1))
    assert len(problems) == 3


def test_consent_must_come_before_any_data():
    spec = study_spec()
    spec["steps"][0], spec["steps"][2] = spec["steps"][2], spec["steps"][0]
    assert any("consent step must come before" in p for p in problems_of(spec))


def test_counterbalanced_phases_must_follow_each_other():
    spec = study_spec(assignment={"between": ["no-help"], "phase_order": "latin-square"})
    phase = spec["steps"][4]
    spec["steps"] = [
        *spec["steps"][:4],
        phase,
        {"type": "instructions", "text": "Break"},
        dict(phase),
        spec["steps"][-1],
    ]
    assert any("must follow each other" in p for p in problems_of(spec))


@pytest.mark.parametrize(
    "text, expected",
    [("{not json", "not valid JSON"), ("a: [b", "not valid YAML"), ("- a list", "is a mapping"),
     (b"\xff\xfe", "not UTF-8"), ("x" * (studyfile.MAX_FILE_BYTES + 1), "at most")],
)  # fmt: skip
def test_unreadable_files_are_refused_with_the_reason(text, expected):
    with pytest.raises(studyfile.StudyFileInvalid) as caught:
        studyfile.read_study(text)
    assert expected in caught.value.problems[0]


def test_json_is_read_as_json():
    import json

    assert studyfile.read_study(json.dumps(study_spec()))["slug"] == "iris-test"


def test_yaml_timestamps_are_read_as_moments():
    spec = yaml.safe_load(yaml.safe_dump(study_spec()) + "closes_at: 2027-03-01T00:00:00Z\n")
    assert studyfile.canonical(spec)["closes_at"] == "2027-03-01T00:00:00+00:00"


FIELDS = studyfile.canonical(
    study_spec(
        steps=[
            study_spec()["steps"][0],
            {
                "type": "questionnaire",
                "fields": [
                    {"name": "age", "label": "Age", "type": "single", "choices": ["young", "old"]},
                    {
                        "name": "used",
                        "label": "Used",
                        "type": "multiple",
                        "choices": ["a", "b", "c"],
                        "required": False,
                    },
                    {"name": "years", "label": "Years", "type": "number", "min": 0, "max": 60, "required": False},
                    {"name": "note", "label": "Note", "type": "text", "max_length": 5, "required": False},
                ],
            },
            *study_spec()["steps"][4:],
        ]
    )
)["steps"][1]["fields"]


@pytest.mark.parametrize(
    "answers, clean, problem",
    [
        ({"age": "young"}, {"age": "young"}, None),
        ({"age": "young", "used": ["c", "a"], "years": 3, "note": "hi"},
         {"age": "young", "used": ["a", "c"], "years": 3, "note": "hi"}, None),
        ({}, {}, ("age", "Please answer: Age")),
        ({"age": "middle"}, {}, ("age", "Choose one of young, old")),
        ({"age": "old", "used": ["a", "a"]}, {"age": "old"}, ("used", "each once")),
        ({"age": "old", "used": [{"x": 1}]}, {"age": "old"}, ("used", "each once")),
        ({"age": "old", "used": "a"}, {"age": "old"}, ("used", "each once")),
        ({"age": "old", "years": 61}, {"age": "old"}, ("years", "from 0 to 60")),
        ({"age": "old", "years": True}, {"age": "old"}, ("years", "Give a number")),
        ({"age": "old", "note": "too long"}, {"age": "old"}, ("note", "at most 5")),
        ({"age": "old", "shoe": 42}, {"age": "old"}, ("shoe", "There is no question 'shoe'")),
    ],
)  # fmt: skip
def test_questionnaire_answers_are_checked_against_the_questions(answers, clean, problem):
    got, problems = studyfile.check_answers(FIELDS, answers)
    assert got == clean
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problems[0][0] == problem[0] and problem[1] in problems[0][1], problems


def test_answers_must_be_a_mapping():
    assert studyfile.check_answers(FIELDS, ["young"])[1][0][1].startswith("answers must be a mapping")


# --- Markdown ----------------------------------------------------------------------


def test_markdown_is_rendered():
    assert markup.render("## Hi\n\n**bold** and a [link](https://example.org)") == (
        '<h2>Hi</h2>\n<p><strong>bold</strong> and a <a href="https://example.org" rel="noopener noreferrer">'
        "link</a></p>"
    )


@pytest.mark.parametrize(
    "text",
    ["<script>alert(1)</script>", '<img src=x onerror="alert(1)">', "[x](javascript:alert(1))",
     '<a href="#" onclick="alert(1)">x</a>', "<iframe src=https://evil.example></iframe>", "<style>*{}</style>",
     '<form action="https://evil.example"><input></form>', '<p style="position:fixed">x</p>'],
)  # fmt: skip
def test_markdown_never_carries_script_styles_frames_or_forms(text):
    html = markup.render(text)
    for bad in ("<script", "onerror", "javascript:", "onclick", "<iframe", "<style", "<form", "<input", "style="):
        assert bad not in html


def test_images_are_only_the_studys_own_examples():
    html = markup.render("![a](example:eye) ![b](https://tracker.example/pixel.png) ![c](example:gone)",
                         example_url=lambda name: "/api/x/eye" if name == "eye" else None)  # fmt: skip
    assert '<img alt="a" src="/api/x/eye">' in html
    assert "tracker" not in html and html.count("src=") == 1
