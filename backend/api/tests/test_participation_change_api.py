"""A participant's incremental saves (PATCH): the change alone travels, with the trial's own fields.

The whole-document save (PUT) and the rest of a participant's way are in test_participation_api.py;
the change itself (chunks, masks, revisions) in test_annotation_change_api.py.
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from pycocotools import mask as coco_mask
from rest_framework.test import APIClient

from backend.api import services
from backend.api import strokes as strokes_mod
from backend.api.models import Annotation, Assignment, Image, Participant, Trial

from .conftest import brush, document
from .study_fixtures import mask_document, participant_client, study_text
from .test_participation_api import PROLIFIC, do_trials, go_to_practice

BOX = mask_document()["strokes"][0]  # a lasso filling the practice images' reference box
STROKES = [brush([(5 + 4 * k, 5 + 3 * k), (20 + k, 30)], width=3 + k) for k in range(4)]


def url(trial):
    return f"/api/participation/images/{trial['image']['id']}/annotation/"


def patch(client, trial, **body):
    return client.patch(url(trial), body, format="json")


def stored(client, trial):
    return client.get(url(trial)).json()


def next_trial(client):
    return client.get("/api/participation/trials/").json()["trials"][0]


def decoded_mask(annotation):
    image = annotation.image
    rle = {"size": [image.height, image.width], "counts": annotation.mask_rle.encode()}
    return coco_mask.decode(rle).astype(bool)


@pytest.fixture
def client(study):
    """A participant enrolled and through to the practice (its images are the same for every participant)."""
    client, _ = participant_client(**PROLIFIC)
    go_to_practice(client)
    return client


@pytest.fixture
def phase_client(client):
    """The participant once the practice is done: on the phase, a main image then a catch image."""
    do_trials(client, 2)
    return client


# --- Saving by changes --------------------------------------------------------------------------


def test_a_first_change_creates_the_participant_s_annotation(client):
    trial = next_trial(client)
    response = patch(client, trial, version=0, append=STROKES[:2], label="real", op="first")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["version"], body["stroke_count"], body["label"], body["status"]) == (1, 2, "real", "draft")
    assert "strokes" not in body and response["Preference-Applied"] == "return=minimal"
    assert stored(client, trial)["strokes"] == STROKES[:2]
    saved = Trial.objects.get(pk=trial["id"])
    assert saved.status == Trial.Status.OPEN and saved.annotation.version == 1


def test_appended_and_undone_strokes_read_back_as_the_document_with_its_mask(client):
    trial = next_trial(client)
    patch(client, trial, version=0, append=STROKES[:1])
    assert patch(client, trial, version=1, append=STROKES[1:3]).json()["version"] == 2
    undone = patch(client, trial, version=2, remove=1)  # undo the last stroke
    assert undone.status_code == 200 and undone.json()["stroke_count"] == 2
    assert stored(client, trial)["strokes"] == STROKES[:2]
    annotation = Annotation.objects.get()
    expected = strokes_mod.rasterize(STROKES[:2], annotation.image.width, annotation.image.height)
    assert (decoded_mask(annotation) == expected).all() and annotation.mask_area == expected.sum()


def test_a_change_of_the_text_alone_keeps_the_strokes(client):
    trial = next_trial(client)
    patch(client, trial, version=0, append=STROKES[:1])
    assert patch(client, trial, version=1, text="a smudge").json()["version"] == 2
    assert patch(client, trial, version=2, text="a smudge, left").json()["text"] == "a smudge, left"
    body = stored(client, trial)
    assert (body["text"], body["strokes"], body["version"]) == ("a smudge, left", STROKES[:1], 3)


def test_submitting_by_changes_finishes_the_practice_judged_and_moves_the_participant_on(client):
    for _ in range(2):  # the practice's two images
        trial = next_trial(client)
        assert patch(client, trial, version=0, append=[BOX]).status_code == 201
        submitted = patch(client, trial, version=1, label="real", status="submitted")
        assert submitted.status_code == 200 and submitted.json()["status"] == "submitted"
        judged = Trial.objects.get(pk=trial["id"])
        assert judged.status == Trial.Status.SUBMITTED and judged.finished_at is not None
        assert judged.iou == pytest.approx(1.0)  # judged against the reference mask
        assert judged.correct is (judged.image.ground_truth == "real")
    state = client.get("/api/participation/").json()
    assert state["current"]["kind"] == "annotation" and state["progress"]["done"] == 5


def test_a_catch_image_submitted_by_a_change_is_judged_and_flags_a_participant_who_fails_it(phase_client):
    client = phase_client
    for trial in client.get("/api/participation/trials/?ahead=5").json()["trials"][:2]:  # a main, then the catch
        truth = Trial.objects.get(pk=trial["id"]).image.ground_truth
        wrong = "fake" if truth == "real" else "real"
        response = patch(client, trial, version=0, append=[BOX], label=wrong, status="submitted")
        assert response.status_code == 201, response.content
    catch = Trial.objects.get(kind=Trial.Kind.CATCH)
    assert (catch.status, catch.correct, catch.passed) == (Trial.Status.SUBMITTED, False, False)
    assert catch.iou == pytest.approx(1.0)
    participant = Participant.objects.get()
    assert (participant.catch_judged, participant.catch_passed, participant.flagged) == (1, 0, True)


def test_a_change_whose_time_ran_out_finishes_the_image_with_what_it_holds(phase_client):
    client = phase_client
    trial = next_trial(client)
    patch(client, trial, version=0, append=STROKES[:1])
    response = patch(client, trial, version=1, append=STROKES[1:2], timed_out=True)  # no answer: not submittable
    assert response.status_code == 200, response.content
    finished = Trial.objects.get(pk=trial["id"])
    assert finished.status == Trial.Status.TIMED_OUT and finished.finished_at is not None
    assert finished.annotation.status == "draft" and stored(client, trial)["strokes"] == STROKES[:2]
    assert client.get("/api/participation/").json()["progress"]["done"] == 6


def test_a_change_submitted_with_the_time_out_counts_as_submitted(phase_client):
    client = phase_client
    trial = next_trial(client)
    response = patch(client, trial, version=0, append=[BOX], label="real", status="submitted", timed_out=True)
    assert response.status_code == 201, response.content
    assert Trial.objects.get(pk=trial["id"]).status == Trial.Status.SUBMITTED


def test_the_guidance_toggles_sent_with_a_change_are_stored_and_kept_when_left_out(phase_client):
    client = phase_client
    trial = next_trial(client)
    events = [{"t": 100, "shown": False}, {"t": 2500, "shown": True}]
    assert patch(client, trial, version=0, append=STROKES[:1], guidance_events=events).status_code == 201
    assert Trial.objects.get(pk=trial["id"]).guidance_events == events
    more = [*events, {"t": 4000, "shown": False}]
    toggled = patch(client, trial, version=1, guidance_events=more)  # a toggle alone: no new version
    assert toggled.status_code == 200 and toggled.json()["version"] == 1
    assert Trial.objects.get(pk=trial["id"]).guidance_events == more
    patch(client, trial, version=1, append=STROKES[1:2])
    assert Trial.objects.get(pk=trial["id"]).guidance_events == more
    assert stored(client, trial)["guidance_events"] == more


def test_a_retried_change_is_answered_without_being_applied_twice(client):
    trial = next_trial(client)
    patch(client, trial, version=0, append=STROKES[:1], op="p-1")
    first = patch(client, trial, version=1, append=STROKES[1:2], op="p-2")
    again = patch(client, trial, version=1, append=STROKES[1:2], op="p-2")  # its answer was lost
    assert first.status_code == again.status_code == 200
    assert again.json()["version"] == 2 and again.json()["stroke_count"] == 2
    assert stored(client, trial)["strokes"] == STROKES[:2]


def test_a_change_on_a_stale_version_gets_409_with_the_current_document(client):
    trial = next_trial(client)
    patch(client, trial, version=0, append=STROKES[:1], op="tab-1")
    response = patch(client, trial, version=0, append=STROKES[1:2], op="tab-2")  # another tab, from nothing
    assert response.status_code == 409
    body = response.json()
    assert set(body) == {"code", "detail", "errors", "current"} and body["code"] == "version_conflict"
    assert body["current"]["version"] == 1 and body["current"]["strokes"] == STROKES[:1]
    assert Annotation.objects.get().version == 1


def test_a_finished_image_refuses_another_change_but_answers_a_retry_of_its_last(client):
    trial = next_trial(client)
    patch(client, trial, version=0, append=[BOX], op="draw")
    submit = {"version": 1, "append": STROKES[:1], "label": "real", "status": "submitted", "op": "submit"}
    assert client.patch(url(trial), submit, format="json").status_code == 200
    again = client.patch(url(trial), submit, format="json")  # its answer was lost: known by its op
    assert again.status_code == 200 and again.json()["version"] == 2 and again.json()["stroke_count"] == 2
    nothing = patch(client, trial, version=2)  # a change that changes nothing
    assert nothing.status_code == 200 and nothing.json()["version"] == 2
    refused = patch(client, trial, version=2, append=STROKES[:1], op="late")
    assert refused.status_code == 409 and refused.json()["code"] == "trial_finished"
    assert "finished this image" in refused.json()["detail"]
    relabel = patch(client, trial, version=2, label="fake")
    assert relabel.status_code == 409 and relabel.json()["code"] == "trial_finished"
    annotation = Annotation.objects.get()
    assert (annotation.version, annotation.stroke_count, annotation.label) == (2, 2, "real")


def test_strokes_appended_past_the_time_limit_per_image_are_refused(study_datasets):
    text = study_text().replace("images: 2\n", "images: 2\n  image_seconds: 10\n")
    services.study_import(text=text)
    client, _ = participant_client(**PROLIFIC)
    go_to_practice(client)
    do_trials(client, 2)
    trial = next_trial(client)
    assert patch(client, trial, version=0, append=STROKES[:1]).status_code == 201  # drawn in time
    late = {"tool": "brush", "width": 4.0, "points": [[5.0, 5.0, 0.0, 0.5], [9.0, 9.0, 16000.0, 0.5]]}
    response = patch(client, trial, version=1, append=[late])
    assert response.status_code == 400 and response.json()["errors"][0]["code"] == "image_time_up"
    assert stored(client, trial)["strokes"] == STROKES[:1]
    assert patch(client, trial, version=1, text="in time").status_code == 200  # only what is appended counts


BAD_CHANGES = [  # (body, the field named)
    ({"append": [STROKES[0]]}, "version"),
    ({"version": -1}, "version"),
    ({"version": 0, "remove": -1}, "remove"),
    ({"version": 0, "append": {"tool": "brush"}}, "append"),
    ({"version": 0, "append": [{"tool": "pen", "width": 4.0, "points": [[1.0, 1.0, 0.0, 0.5]]}]}, "append[0].tool"),
    ({"version": 0, "append": [STROKES[0]], "label": "maybe"}, "label"),
    ({"version": 0, "append": [STROKES[0]], "status": "done"}, "status"),
    ({"version": 0, "append": [STROKES[0]], "op": "not an id!"}, "op"),
    ({"version": 0, "append": [STROKES[0]], "guidance_events": [{"t": -5, "shown": True}]}, "guidance_events"),
    ({"version": 0, "append": [STROKES[0]], "guidance_events": "often"}, "guidance_events"),
    ({"version": 0, "append": [STROKES[0]], "timed_out": "perhaps"}, "timed_out"),
    ({"version": 0, "append": [STROKES[0]], "status": "submitted"}, "status"),  # no answer: incomplete
]


@pytest.mark.parametrize("body, field", BAD_CHANGES, ids=[f for _, f in BAD_CHANGES])
def test_a_bad_change_is_refused_naming_the_problem_and_stores_nothing(client, body, field):
    trial = next_trial(client)
    response = client.patch(url(trial), body, format="json")
    assert response.status_code == 400, response.content
    error = response.json()
    assert error["errors"][0]["field"].startswith(field) and error["detail"]
    assert not Annotation.objects.exists()
    unchanged = Trial.objects.get(pk=trial["id"])
    assert (unchanged.status, unchanged.guidance_events) == (Trial.Status.OPEN, [])


def test_a_refused_change_leaves_the_stored_annotation_and_guidance_as_they_were(client):
    trial = next_trial(client)
    events = [{"t": 100, "shown": True}]
    patch(client, trial, version=0, append=STROKES[:1], guidance_events=events)
    response = patch(client, trial, version=1, remove=3, guidance_events=[*events, {"t": 200, "shown": False}])
    assert response.status_code == 400 and response.json()["errors"][0]["code"] == "remove_too_many"
    assert Trial.objects.get(pk=trial["id"]).guidance_events == events
    assert stored(client, trial)["strokes"] == STROKES[:1] and Annotation.objects.get().version == 1


def test_only_the_participant_may_change_their_image(client, annotator, client_for):
    trial = next_trial(client)
    body = {"version": 0, "append": [STROKES[0]]}
    assert APIClient().patch(url(trial), body, format="json").status_code in (401, 403)
    assert client_for(annotator).patch(url(trial), body, format="json").status_code == 403
    other, _ = participant_client(PROLIFIC_PID="another-participant")
    assert other.patch(url(trial), body, format="json").status_code == 404  # not one of theirs
    assert not Annotation.objects.exists()


def test_a_change_on_an_image_given_to_others_while_its_lease_ran_out_loses_the_trial(phase_client, study_datasets):
    client = phase_client
    participant = Participant.objects.get()
    trial = next_trial(client)
    image = Image.objects.get(pk=trial["image"]["id"])
    # The lease runs out and three others fill the image (its target is 3).
    Assignment.objects.filter(annotator=participant.user, image=image).update(leased_until=timezone.now())
    services.release_expired_leases(dataset=study_datasets["main"], now=timezone.now() + timedelta(seconds=1))
    for number in range(3):
        other = services.participant_enrol(slug="iris-test", params={"PROLIFIC_PID": f"other{number}"}).participant
        content = services.AnnotationContent([brush([(2, 2)])], "real", "", "submitted")
        services.annotation_save(image=image, annotator=other.user, content=content, base_version=0)
    response = patch(client, trial, version=0, append=[BOX], label="real")
    assert response.status_code == 409 and response.json()["code"] == "image_full"
    assert Trial.objects.get(pk=trial["id"]).status == Trial.Status.LOST
    assert not Annotation.objects.filter(annotator=participant.user, image=image).exists()
    assert next_trial(client)["id"] != trial["id"]


# --- The same as whole saves ----------------------------------------------------------------------


# One practice image's work, as the app saves it: (the PUT's document, the PATCH's change from the one before).
SESSION = [
    (document(STROKES[:2]), {"append": STROKES[:2]}),
    (document(STROKES[:3]), {"append": STROKES[2:3]}),
    (document(STROKES[:2]), {"remove": 1}),  # undo
    (document([*STROKES[:2], BOX], text="left eye"), {"append": [BOX], "text": "left eye"}),
    (document([*STROKES[:2], BOX], label="fake", text="left eye"), {"label": "fake"}),
    (document([*STROKES[:1], BOX], label="fake", text="left"), {"remove": 2, "append": [BOX], "text": "left"}),
    (document([*STROKES[:1], BOX], label="fake", text="left", status="submitted"), {"status": "submitted"}),
]


def _stored_work(client, trial) -> dict:
    """Return what is stored of the participant's work on the trial: the document, the mask, the trial."""
    saved = Trial.objects.select_related("annotation").get(pk=trial["id"])
    annotation = saved.annotation
    body = stored(client, trial)
    return {
        "document": {key: body[key] for key in ("strokes", "label", "text", "status", "version", "stroke_count")},
        "mask": (annotation.mask_rle, annotation.mask_area),
        "trial": (saved.status, saved.correct, saved.iou, saved.guidance_events),
    }


def test_a_sequence_of_changes_stores_exactly_what_the_same_whole_saves_store(study):
    events = [{"t": 50, "shown": True}]
    work = []
    for pid, by_change in (("whole-saves", False), ("changes", True)):
        client, _ = participant_client(PROLIFIC_PID=pid)
        go_to_practice(client)
        trial = next_trial(client)  # the practice's first image, the same for both
        for version, (whole, change) in enumerate(SESSION):
            if by_change:
                response = patch(client, trial, version=version, guidance_events=events, **change)
            else:
                response = client.put(
                    url(trial), {**whole, "version": version, "guidance_events": events}, format="json"
                )
            assert response.status_code in (200, 201), response.content
        work.append(_stored_work(client, trial))
    whole, changes = work
    assert changes == whole
    assert whole["document"]["version"] == len(SESSION) and whole["trial"][0] == Trial.Status.SUBMITTED
