"""A participant's way through a study over the API: enrolling by the link, every step, finishing, withdrawing.

Who may call what is in the roles matrix (test_permissions.py); the draws themselves in
test_design.py; balance over many enrolments in test_study_assignment.py.
"""

import hashlib
import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from backend.api import services
from backend.api.models import Annotation, Assignment, Image, Participant, RetiredPlatformKey, Study, Trial

from .conftest import brush, document
from .study_fixtures import mask_document, participant_client, study_text

PROLIFIC = {"PROLIFIC_PID": "5f1a2b3c4d5e6f7a8b9c0d1e", "STUDY_ID": "60aa", "SESSION_ID": "s-1"}


def stored():
    """Return what enrolling stores: participants, users, trials and annotations."""
    return (Participant.objects.count(), User.objects.count(), Trial.objects.count(), Annotation.objects.count())


def go_to_practice(client):
    """Take the participant through consent, instructions and the questionnaire."""
    assert (
        client.post("/api/participation/steps/0/", {"agree": True, "version": "v1"}, format="json").status_code == 200
    )
    assert client.post("/api/participation/steps/1/", {}, format="json").status_code == 200
    response = client.post("/api/participation/steps/2/", {"answers": {"age": "18-30"}}, format="json")
    assert response.status_code == 200
    return response.json()


def do_trials(client, count, **document_options):
    """Submit the participant's next ``count`` images; return the trials handed out."""
    done = []
    for _ in range(count):
        trial = client.get("/api/participation/trials/").json()["trials"][0]
        response = client.put(
            f"/api/participation/images/{trial['image']['id']}/annotation/",
            mask_document(**document_options),
            format="json",
        )
        assert response.status_code == 201, response.content
        done.append(trial)
    return done


def finish(client, *, at_practice=False):
    """Take an enrolled participant to the end of the study; return the state with the completion."""
    if not at_practice:
        go_to_practice(client)
    do_trials(client, 2)  # practice
    do_trials(client, 3)  # the phase: 2 images and a catch image
    state = client.get("/api/participation/").json()
    assert state["current"]["kind"] == "finish"
    response = client.post(f"/api/participation/steps/{state['index']}/", {}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


# --- Enrolling ------------------------------------------------------------------------------------


def test_a_prolific_link_enrols_a_pseudonymous_participant(study):
    client, response = participant_client(**PROLIFIC)
    assert response.status_code == 201
    state = response.json()
    participant = Participant.objects.get()
    assert state["participant"]["pseudonym"] == participant.pseudonym == participant.user.username
    assert participant.pseudonym.startswith("P-") and PROLIFIC["PROLIFIC_PID"] not in state["participant"].values()
    assert participant.platform_ids == {"participant": PROLIFIC["PROLIFIC_PID"], "study": "60aa", "session": "s-1"}
    assert not participant.user.has_usable_password() and participant.user.groups.count() == 0
    assert [step["kind"] for step in state["steps"]] == [
        "consent", "instructions", "questionnaire", "practice", "annotation", "finish"
    ]  # fmt: skip
    assert state["current"] == {"id": participant.sequence[0], "kind": "consent", "title": "Consent",
                                "html": "<p>Do you <strong>agree</strong>?</p>", "version": "v1"}  # fmt: skip
    assert state["progress"] == {"done": 0, "total": 9}  # 4 steps, 2 practice images, 2 images and a catch image
    assert client.get("/api/participation/").json() == state  # the session is the participant's


def test_mturk_parameters_are_read_under_their_own_names(study_datasets):
    services.study_import(text=study_text(platform={"name": "mturk"}))
    _, response = participant_client(workerId="A1B2C3", assignmentId="3XYZ", hitId="H9")
    assert response.status_code == 201
    assert Participant.objects.get().platform_ids == {"participant": "A1B2C3", "study": "H9", "session": "3XYZ"}


def test_the_same_browser_comes_back_to_the_same_participant_on_any_step(study):
    client, _ = participant_client(**PROLIFIC)
    go_to_practice(client)
    again = client.post("/api/studies/iris-test/enrol/", {"params": PROLIFIC}, format="json")
    assert again.status_code == 200
    assert again.json()["current"]["kind"] == "practice"
    no_params = client.post("/api/studies/iris-test/enrol/", {"params": {}}, format="json")
    assert no_params.status_code == 200 and Participant.objects.count() == 1


def test_the_same_platform_id_in_another_browser_resumes_and_never_enrols_twice(study):
    first, _ = participant_client(**PROLIFIC)
    go_to_practice(first)
    second, response = participant_client(**PROLIFIC)
    assert response.status_code == 200
    assert response.json()["current"]["kind"] == "practice"
    assert Participant.objects.count() == 1
    assert (
        second.get("/api/participation/").json()["participant"]
        == first.get("/api/participation/").json()["participant"]
    )


def test_a_study_that_keeps_no_platform_ids_still_knows_a_returning_one(study_datasets):
    services.study_import(text=study_text(platform={"name": "prolific", "keep_ids": False}))
    participant_client(**PROLIFIC)
    _, again = participant_client(**PROLIFIC)
    participant = Participant.objects.get()
    assert again.status_code == 200
    assert participant.platform_ids == {} and PROLIFIC["PROLIFIC_PID"] not in participant.platform_key


def test_an_unknown_study_is_refused_and_nothing_is_stored(study):
    before = stored()
    _, response = participant_client(slug="no-such-study", **PROLIFIC)
    assert response.status_code == 404
    assert response.json()["code"] == "no_study"
    assert stored() == before


@pytest.mark.parametrize(
    "params, platform, field",
    [
        ({"PROLIFIC_PID": "<script>"}, {}, "PROLIFIC_PID"),
        ({"PROLIFIC_PID": "x" * 129}, {}, "PROLIFIC_PID"),
        ({"PROLIFIC_PID": "abc", "STUDY_ID": "another-study"}, {"study_id": "60aa"}, "STUDY_ID"),
        ({"PROLIFIC_PID": "abc"}, {"study_id": "60aa"}, "STUDY_ID"),
        ({"STUDY_ID": "60aa"}, {"require_participant": True}, "PROLIFIC_PID"),
        ({f"p{i}": "x" for i in range(31)}, {}, None),
    ],
)
def test_a_tampered_link_is_refused_and_nothing_is_stored(study_datasets, params, platform, field):
    services.study_import(text=study_text(platform={"name": "prolific", "require_participant": False, **platform}))
    before = stored()
    _, response = participant_client(**params)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_link"
    assert (field or "The link") in response.json()["detail"]
    assert stored() == before


def test_a_link_with_a_parameter_that_is_not_text_is_refused(study):
    response = APIClient().post("/api/studies/iris-test/enrol/", {"params": {"PROLIFIC_PID": [1]}}, format="json")
    assert response.status_code == 400 and Participant.objects.count() == 0


@pytest.mark.parametrize(
    "change, code",
    [({"status": "draft"}, "study_not_open"), ({"status": "paused"}, "study_paused"),
     ({"status": "closed"}, "study_closed"), ({"closes_at": "2020-01-01T00:00:00Z"}, "study_closed")],
)  # fmt: skip
def test_a_study_that_is_not_open_refuses_newcomers_and_stores_nothing(study_datasets, change, code):
    services.study_import(text=study_text(**change))
    before = stored()
    _, response = participant_client(**PROLIFIC)
    assert response.status_code == 409
    assert response.json()["code"] == code
    assert stored() == before


def test_a_paused_study_lets_those_enrolled_go_on_and_a_closed_one_stops_them(study):
    client, _ = participant_client(**PROLIFIC)
    services.study_set_status(study=study, status=Study.Status.PAUSED)
    assert (
        client.post("/api/participation/steps/0/", {"agree": True, "version": "v1"}, format="json").status_code == 200
    )
    _, again = participant_client(**PROLIFIC)  # returning is not enrolling
    assert again.status_code == 200
    services.study_set_status(study=study, status=Study.Status.CLOSED)
    response = client.post("/api/participation/steps/1/", {}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "study_closed"


def test_a_full_study_refuses_newcomers_until_someone_drops_out(study_datasets):
    services.study_import(text=study_text(max_participants=2))
    first, _ = participant_client(PROLIFIC_PID="a1")
    participant_client(PROLIFIC_PID="a2")
    _, third = participant_client(PROLIFIC_PID="a3")
    assert third.status_code == 409 and third.json()["code"] == "study_full"
    assert Participant.objects.count() == 2
    first.post("/api/participation/withdraw/")
    _, fourth = participant_client(PROLIFIC_PID="a3")
    assert fourth.status_code == 201


def test_someone_signed_in_with_an_account_is_asked_to_sign_out(study, annotator, client_for):
    response = client_for(annotator).post("/api/studies/iris-test/enrol/", {"params": PROLIFIC}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "signed_in"
    assert annotator.username in response.json()["detail"]
    assert Participant.objects.count() == 0


def test_enrolling_is_rate_limited_per_client_address(study, monkeypatch):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"enrol": "3/min", "login": "10/min"})
    for number in range(3):
        _, response = participant_client(PROLIFIC_PID=f"pid{number}")
        assert response.status_code == 201
    before = stored()
    _, refused = participant_client(PROLIFIC_PID="pid9")
    assert refused.status_code == 429 and "Retry-After" in refused
    assert stored() == before
    other = APIClient(REMOTE_ADDR="10.1.2.3").post(
        "/api/studies/iris-test/enrol/", {"params": {"PROLIFIC_PID": "pid9"}}, format="json"
    )
    assert other.status_code == 201


# --- Consent, instructions, questionnaire ------------------------------------------------------------


def test_agreeing_stores_the_consent_version_and_time(study):
    client, _ = participant_client(**PROLIFIC)
    response = client.post("/api/participation/steps/0/", {"agree": True, "version": "v1"}, format="json")
    assert response.json()["current"]["kind"] == "instructions"
    participant = Participant.objects.get()
    assert participant.consent_version == "v1"
    assert abs((timezone.now() - participant.consented_at).total_seconds()) < 60


def test_agreeing_to_another_version_of_the_consent_is_refused(study):
    client, _ = participant_client(**PROLIFIC)
    response = client.post("/api/participation/steps/0/", {"agree": True, "version": "v0"}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "consent_changed"
    assert Participant.objects.get().consented_at is None


def test_declining_keeps_nothing_but_the_count_of_refusals(study):
    client, _ = participant_client(**PROLIFIC)
    users = User.objects.count()
    response = client.post("/api/participation/steps/0/", {"agree": False}, format="json")
    assert response.status_code == 200 and response.json()["declined"] is True
    assert Participant.objects.count() == 0 and User.objects.count() == users - 1
    study.refresh_from_db()
    assert (study.declined_count, study.deleted_count) == (1, 0)
    assert client.get("/api/participation/").status_code in (401, 403)  # signed out


def test_a_step_done_already_or_not_reached_is_refused_and_changes_nothing(study):
    client, _ = participant_client(**PROLIFIC)
    ahead = client.post("/api/participation/steps/2/", {"answers": {"age": "18-30"}}, format="json")
    assert ahead.status_code == 409 and ahead.json()["code"] == "step_not_reached"
    client.post("/api/participation/steps/0/", {"agree": True, "version": "v1"}, format="json")
    replayed = client.post("/api/participation/steps/0/", {"agree": False}, format="json")
    assert replayed.status_code == 409 and replayed.json()["code"] == "step_done"
    assert Participant.objects.get().step_index == 1


def test_instructions_with_a_reading_time_are_refused_too_soon(study_datasets):
    spec_steps = study_text()
    services.study_import(text=spec_steps.replace("text: 'Look: ![an eye](example:eye)'", "text: x\n  min_seconds: 30"))
    participant = services.participant_enrol(slug="iris-test", params={}).participant
    now = timezone.now()
    services.participant_complete_step(participant_id=participant.pk, index=0, payload={"agree": True, "version": "v1"},
                                       now=now)  # fmt: skip
    with pytest.raises(services.StudyRefusal) as refused:
        services.participant_complete_step(participant_id=participant.pk, index=1, payload={}, now=now)
    assert refused.value.code == "too_soon"
    services.participant_complete_step(
        participant_id=participant.pk, index=1, payload={}, now=now + timedelta(seconds=31)
    )


def test_the_instructions_example_image_is_served_to_the_participant(study):
    client, _ = participant_client(**PROLIFIC)
    state = client.post("/api/participation/steps/0/", {"agree": True, "version": "v1"}, format="json").json()
    url = state["current"]["html"].split('src="')[1].split('"')[0]
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert client.get(url.replace("/eye", "/nose")).status_code == 404


def test_questionnaire_answers_are_checked_and_stored(study):
    client, _ = participant_client(**PROLIFIC)
    client.post("/api/participation/steps/0/", {"agree": True, "version": "v1"}, format="json")
    client.post("/api/participation/steps/1/", {}, format="json")
    refused = client.post("/api/participation/steps/2/", {"answers": {"age": "99", "years": -1}}, format="json")
    assert refused.status_code == 400
    assert {e["field"] for e in refused.json()["errors"]} == {"answers.age", "answers.years"}
    assert Participant.objects.get().answers == {}
    client.post("/api/participation/steps/2/", {"answers": {"age": "31+", "years": 4}}, format="json")
    assert Participant.objects.get().answers == {"age": "31+", "years": 4}


# --- Practice with feedback -------------------------------------------------------------------------


def test_practice_hands_out_its_named_images_in_order_and_gives_feedback_once_submitted(study, study_datasets):
    client, _ = participant_client(**PROLIFIC)
    go_to_practice(client)
    batch = client.get("/api/participation/trials/?ahead=5").json()
    practice = study_datasets["practice"]
    assert [t["image"]["id"] for t in batch["trials"]] == [
        practice.images.get(path=f"images/practice_0{i}.png").pk for i in (0, 1)
    ]
    assert all(t["practice"] and t["guidance"] is None for t in batch["trials"])
    first = batch["trials"][0]
    assert client.get(f"/api/participation/images/{first['image']['id']}/feedback/").status_code == 404  # not before
    client.put(
        f"/api/participation/images/{first['image']['id']}/annotation/", mask_document(label="fake"), format="json"
    )
    feedback = client.get(f"/api/participation/images/{first['image']['id']}/feedback/").json()
    assert feedback["answer"] == "real" and feedback["your_answer"] == "fake" and feedback["correct"] is False
    assert feedback["iou"] == pytest.approx(1.0)  # the document paints exactly the reference box
    mask = client.get(feedback["reference_mask_url"])
    assert mask.status_code == 200 and mask["Content-Type"] == "image/png"


def test_the_practice_counts_towards_no_target_and_moves_the_participant_on(study, study_datasets):
    client, _ = participant_client(**PROLIFIC)
    go_to_practice(client)
    do_trials(client, 2)
    state = client.get("/api/participation/").json()
    assert state["current"]["kind"] == "annotation" and state["progress"]["done"] == 5
    assert Annotation.objects.filter(image__dataset=study_datasets["practice"], status="submitted").count() == 2


# --- Annotation phases ------------------------------------------------------------------------------------


def test_a_phase_draws_its_images_from_the_queue_with_a_catch_image_at_its_slot(study, study_datasets):
    client, _ = participant_client(**PROLIFIC)
    go_to_practice(client)
    do_trials(client, 2)
    trials = client.get("/api/participation/trials/?ahead=5").json()["trials"]
    assert [t["position"] for t in trials] == [1, 2, 3]
    images = Image.objects.in_bulk([t["image"]["id"] for t in trials])
    assert [images[t["image"]["id"]].dataset.slug for t in trials] == ["study-main", "study-catch", "study-main"]
    participant = Participant.objects.get()
    leased = Assignment.objects.filter(annotator=participant.user, status=Assignment.Status.LEASED)
    assert set(leased.values_list("image__dataset__slug", flat=True)) == {"study-main"}  # the queue's leases
    assert all(set(t) == {"id", "step", "position", "practice", "status", "image", "guidance"} for t in trials)
    assert client.get("/api/participation/trials/?ahead=5").json()["trials"] == trials  # handed out once
    assert client.get(f"/api/participation/images/{trials[1]['image']['id']}/").json() == trials[1]


def test_a_catch_image_is_judged_and_a_participant_under_the_threshold_is_flagged(study):
    client, _ = participant_client(**PROLIFIC)
    go_to_practice(client)
    do_trials(client, 2)
    for trial in client.get("/api/participation/trials/?ahead=5").json()["trials"]:
        image = Image.objects.get(pk=trial["image"]["id"])
        wrong = "fake" if image.ground_truth == "real" else "real"
        client.put(
            f"/api/participation/images/{trial['image']['id']}/annotation/", mask_document(label=wrong), format="json"
        )
    catch = Trial.objects.get(kind=Trial.Kind.CATCH)
    assert (catch.correct, catch.passed, catch.iou) == (False, False, pytest.approx(1.0))
    participant = Participant.objects.get()
    assert (participant.catch_judged, participant.catch_passed, participant.flagged) == (1, 0, True)
    assert participant.excluded is False  # the study flags; it does not exclude


def test_the_condition_decides_the_guidance_and_its_saliency_map_is_served(study):
    client, _ = participant_client(**PROLIFIC)
    participant = Participant.objects.get()
    go_to_practice(client)
    do_trials(client, 2)
    trials = client.get("/api/participation/trials/?ahead=5").json()["trials"]
    url = f"/api/participation/images/{trials[0]['image']['id']}/ai-saliency"
    if participant.condition.slug == "ai-saliency":
        assert trials[0]["guidance"] == {"placement": "over", "toggle": True, "ai_saliency_url": url}
        assert client.get(url).status_code == 200
    else:
        assert trials[0]["guidance"] is None
        assert client.get(url).status_code == 404


def test_every_toggle_of_the_guidance_is_stored_with_the_trial(study):
    client, _ = participant_client(**PROLIFIC)
    go_to_practice(client)
    do_trials(client, 2)
    trial = client.get("/api/participation/trials/").json()["trials"][0]
    events = [{"t": 100, "shown": False}, {"t": 2500, "shown": True}]
    body = {**mask_document(status="draft"), "guidance_events": events}
    assert (
        client.put(f"/api/participation/images/{trial['image']['id']}/annotation/", body, format="json").status_code
        == 201
    )
    assert Trial.objects.get(pk=trial["id"]).guidance_events == events


def test_the_last_image_of_the_phase_moves_the_participant_to_the_finish(study):
    client, _ = participant_client(**PROLIFIC)
    go_to_practice(client)
    do_trials(client, 5)
    state = client.get("/api/participation/").json()
    assert state["current"]["kind"] == "finish"
    assert state["progress"] == {"done": 8, "total": 9}
    refused = client.get("/api/participation/trials/")
    assert refused.status_code == 409 and refused.json()["code"] == "not_an_images_step"


def test_a_finished_image_does_not_change_but_a_retry_of_its_content_is_answered(study):
    client, _ = participant_client(**PROLIFIC)
    go_to_practice(client)
    [trial] = do_trials(client, 1)
    url = f"/api/participation/images/{trial['image']['id']}/annotation/"
    assert client.put(url, mask_document(), format="json").status_code == 200  # the same, sent again
    changed = client.put(url, mask_document(label="fake", version=1), format="json")
    assert changed.status_code == 409 and changed.json()["code"] == "trial_finished"


def test_a_stroke_drawn_past_the_time_limit_per_image_is_refused(study_datasets):
    text = study_text().replace("images: 2\n", "images: 2\n  image_seconds: 10\n")
    services.study_import(text=text)
    client, _ = participant_client(**PROLIFIC)
    go_to_practice(client)
    do_trials(client, 2)
    trial = client.get("/api/participation/trials/").json()["trials"][0]
    late = {"tool": "brush", "width": 4.0, "points": [[5.0, 5.0, 0.0, 0.5], [9.0, 9.0, 16000.0, 0.5]]}
    response = client.put(
        f"/api/participation/images/{trial['image']['id']}/annotation/", document([late], label="real"), format="json"
    )
    assert response.status_code == 400 and response.json()["errors"][0]["code"] == "image_time_up"


def test_an_image_whose_time_ran_out_finishes_with_what_it_holds(study):
    client, _ = participant_client(**PROLIFIC)
    go_to_practice(client)
    do_trials(client, 2)
    trial = client.get("/api/participation/trials/").json()["trials"][0]
    body = {**document([brush([(5, 5)])], status="draft"), "timed_out": True}  # no answer: not submittable
    assert (
        client.put(f"/api/participation/images/{trial['image']['id']}/annotation/", body, format="json").status_code
        == 201
    )
    stored_trial = Trial.objects.get(pk=trial["id"])
    assert stored_trial.status == Trial.Status.TIMED_OUT and stored_trial.annotation.status == "draft"
    assert client.get("/api/participation/").json()["progress"]["done"] == 6


def test_a_participant_past_the_study_time_limit_is_refused(study_datasets):
    services.study_import(text=study_text(time_limit_minutes=30))
    participant = services.participant_enrol(slug="iris-test", params={}).participant
    late = participant.enrolled_at + timedelta(minutes=32)
    with pytest.raises(services.StudyRefusal) as refused:
        services.participant_complete_step(
            participant_id=participant.pk, index=0, payload={"agree": True, "version": "v1"}, now=late
        )
    assert refused.value.code == "time_up"
    state = APIClient()
    state.force_authenticate(participant.user)
    assert state.get("/api/participation/").json()["participant"]["deadline"] is not None


def test_an_image_given_to_others_while_its_lease_ran_out_is_replaced(study, study_datasets):
    client, _ = participant_client(**PROLIFIC)
    participant = Participant.objects.get()
    go_to_practice(client)
    do_trials(client, 2)
    trial = client.get("/api/participation/trials/").json()["trials"][0]
    image = Image.objects.get(pk=trial["image"]["id"])
    # The lease runs out and three others fill the image (its target is 3).
    Assignment.objects.filter(annotator=participant.user, image=image).update(leased_until=timezone.now())
    services.release_expired_leases(dataset=study_datasets["main"], now=timezone.now() + timedelta(seconds=1))
    for number in range(3):
        other = services.participant_enrol(slug="iris-test", params={"PROLIFIC_PID": f"other{number}"}).participant
        services.annotation_save(
            image=image,
            annotator=other.user,
            content=services.AnnotationContent([brush([(2, 2)])], "real", "", "submitted"),
            base_version=0,
        )
    response = client.put(
        f"/api/participation/images/{trial['image']['id']}/annotation/", mask_document(), format="json"
    )
    assert response.status_code == 409 and response.json()["code"] == "image_full"
    assert Trial.objects.get(pk=trial["id"]).status == Trial.Status.LOST
    replacement = client.get("/api/participation/trials/").json()["trials"][0]
    assert replacement["id"] != trial["id"] and replacement["image"]["id"] != image.pk


# --- Finishing -----------------------------------------------------------------------------------


def test_the_completion_code_is_given_only_by_finishing(study):
    client, _ = participant_client(**PROLIFIC)
    before = [client.get("/api/participation/").content]
    go_to_practice(client)
    before.append(client.get("/api/participation/trials/").content)
    state = finish(client, at_practice=True)
    code = state["completion"]["code"]
    assert len(code) == 10 and all(code.encode() not in page for page in before)
    assert state["completion"]["redirect"] == f"https://app.prolific.com/submissions/complete?cc={code}"
    assert state["participant"]["status"] == "completed" and state["progress"]["done"] == state["progress"]["total"]
    assert client.get("/api/participation/").json()["completion"]["code"] == code  # a reload shows it again


def test_the_study_s_own_completion_code_is_in_no_answer_before_the_end(study_datasets):
    text = study_text().replace("finish\n  text: Thanks!", "finish\n  text: Thanks!\n  completion_code: C1A2B3C4")
    services.study_import(text=text)
    client, enrolled = participant_client(**PROLIFIC)
    seen = [enrolled.content, go_to_practice(client)]
    for step in range(2):  # the practice, then the phase with its catch image
        for _ in range(2 + step):
            seen.append(client.get("/api/participation/trials/?ahead=5").content)
            do_trials(client, 1)
        seen.append(client.get("/api/participation/").content)
    assert client.get("/api/participation/").json()["current"]["kind"] == "finish"
    assert all(b"C1A2B3C4" not in page for page in seen if isinstance(page, bytes))
    assert all("C1A2B3C4" not in str(page) for page in seen)
    state = client.post(f"/api/participation/steps/{len(Participant.objects.get().sequence) - 1}/", {}, format="json")
    assert state.json()["completion"]["code"] == "C1A2B3C4"


def test_a_replayed_completion_is_refused_and_changes_nothing(study):
    client, _ = participant_client(**PROLIFIC)
    state = finish(client)
    completed_at = Participant.objects.get().completed_at
    replayed = client.post(f"/api/participation/steps/{state['index']}/", {}, format="json")
    assert replayed.status_code == 409 and replayed.json()["code"] == "already_completed"
    assert Participant.objects.get().completion_code == state["completion"]["code"]
    assert Participant.objects.get().completed_at == completed_at


def test_each_participant_gets_their_own_code_or_the_study_s(study_datasets):
    services.study_import(text=study_text())
    codes = {finish(participant_client(PROLIFIC_PID=f"p{n}")[0])["completion"]["code"] for n in range(2)}
    assert len(codes) == 2
    text = study_text(slug="fixed-code").replace(
        "finish\n  text: Thanks!", "finish\n  text: Thanks!\n  completion_code: C1A2B3C4"
    )
    services.study_import(text=text)
    client, _ = participant_client(slug="fixed-code")
    assert finish(client)["completion"]["code"] == "C1A2B3C4"


def test_a_flagged_participant_is_excluded_at_the_end_when_the_study_says_so(study_datasets):
    spec = study_text().replace("min_trials: 1", "min_trials: 1\n  action: exclude")
    services.study_import(text=spec)
    client, _ = participant_client(**PROLIFIC)
    go_to_practice(client)
    do_trials(client, 2)
    for trial in client.get("/api/participation/trials/?ahead=5").json()["trials"]:
        truth = Image.objects.get(pk=trial["image"]["id"]).ground_truth
        client.put(
            f"/api/participation/images/{trial['image']['id']}/annotation/",
            mask_document(label="fake" if truth == "real" else "real"),
            format="json",
        )
    main = study_datasets["main"]
    assert sum(main.images.values_list("reserved_count", flat=True)) == 2
    client.post("/api/participation/steps/5/", {}, format="json")
    participant = Participant.objects.get()
    assert participant.flagged and participant.excluded and participant.user.profile.is_test
    assert sum(main.images.values_list("reserved_count", flat=True)) == 0  # their images went back to others


# --- Withdrawing ----------------------------------------------------------------------------------------


def test_withdrawing_keeps_the_data_marked_and_frees_the_images_held(study, study_datasets):
    client, _ = participant_client(**PROLIFIC)
    go_to_practice(client)
    do_trials(client, 2)
    client.get("/api/participation/trials/?ahead=5")
    response = client.post("/api/participation/withdraw/")
    assert response.status_code == 200 and response.json() == {"deleted": False}
    participant = Participant.objects.get()
    assert participant.status == "withdrawn" and participant.withdrawn_at is not None
    assert Annotation.objects.filter(annotator=participant.user).count() == 2  # the practice, kept
    services.release_expired_leases(dataset=study_datasets["main"])
    assert sum(study_datasets["main"].images.values_list("reserved_count", flat=True)) == 0
    assert client.get("/api/participation/").status_code in (401, 403)  # signed out
    _, back = participant_client(**PROLIFIC)  # coming back shows the withdrawal; no new enrolment
    assert back.status_code == 200 and back.json()["participant"]["status"] == "withdrawn"


def test_withdrawing_deletes_everything_when_the_study_says_so(study_datasets):
    services.study_import(text=study_text(withdrawal="delete"))
    client, _ = participant_client(**PROLIFIC)
    go_to_practice(client)
    do_trials(client, 3)
    users = User.objects.count()
    assert client.post("/api/participation/withdraw/").json() == {"deleted": True}
    assert (Participant.objects.count(), Trial.objects.count(), Annotation.objects.count()) == (0, 0, 0)
    assert User.objects.count() == users - 1
    assert sum(study_datasets["main"].images.values_list("reserved_count", flat=True)) == 0
    assert Study.objects.get().deleted_count == 1
    # Nothing is kept of them but their platform id's keyed hash: the same id never enrols twice.
    assert list(RetiredPlatformKey.objects.values_list("key", flat=True)) == [
        hashlib.sha256(f"{Study.objects.get().secret}:{PROLIFIC['PROLIFIC_PID']}".encode()).hexdigest()
    ]
    before = stored()
    _, again = participant_client(**PROLIFIC)
    assert again.status_code == 409 and again.json()["code"] == "taken_part"
    assert stored() == before
    _, someone_else = participant_client(PROLIFIC_PID="another-worker")
    assert someone_else.status_code == 201


def test_a_visitor_who_declined_may_come_back_and_agree(study):
    client, _ = participant_client(**PROLIFIC)
    client.post("/api/participation/steps/0/", {"agree": False}, format="json")
    assert RetiredPlatformKey.objects.count() == 0
    _, again = participant_client(**PROLIFIC)
    assert again.status_code == 201


def test_each_phase_s_image_order_is_recorded_with_what_seeds_it(study, study_datasets):
    participant = participant_client(**PROLIFIC)[0] and Participant.objects.get()
    phase = str(participant.sequence[4])
    assert participant.design["image_order"] == {
        phase: {
            "by": "queue",
            "dataset": "study-main",
            "seed": study_datasets["main"].seed,
            "annotator": participant.user_id,
        }
    }


def test_a_researcher_can_have_one_participant_s_data_deleted(study):
    client, _ = participant_client(**PROLIFIC)
    go_to_practice(client)
    do_trials(client, 1)
    services.participant_delete(participant_id=Participant.objects.get().pk)
    assert (Participant.objects.count(), Annotation.objects.count()) == (0, 0)
    assert participant_client(**PROLIFIC)[1].json()["code"] == "taken_part"


# --- Researchers' side ------------------------------------------------------------------------------


def test_researchers_list_studies_and_download_the_study_file(study, researcher, client_for):
    client = client_for(researcher)
    participant_client(**PROLIFIC)
    [listed] = client.get("/api/studies/").json()["results"]
    assert listed["slug"] == "iris-test" and listed["participants"] == 1 and listed["link"] == "/s/iris-test/"
    response = client.get(f"/api/studies/{study.pk}/file/")
    assert response["Content-Type"] == "application/yaml"
    assert 'filename="iris-test.yaml"' in response["Content-Disposition"]
    assert "slug: iris-test" in response.content.decode()
    as_json = client.get(f"/api/studies/{study.pk}/file/?format=json")
    assert as_json.json()["slug"] == "iris-test"
    assert client.get(f"/api/studies/{study.pk}/file/?format=xml").status_code == 400


# --- The study's tables ---------------------------------------------------------------------------


def read_csv(response):
    import csv
    import io

    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_trials_export_has_a_row_per_image_with_what_the_study_adds(study, researcher, client_for):
    client, _ = participant_client(**PROLIFIC)
    finish(client)
    participant = Participant.objects.get()
    response = client_for(researcher).get(f"/api/studies/{study.pk}/export/")
    assert (
        response["Content-Type"] == "text/csv" and 'filename="iris-test-trials.csv"' in response["Content-Disposition"]
    )
    rows = read_csv(response)
    assert [(r["kind"], r["position"], r["phase"], r["phase_order"]) for r in rows] == [
        ("main", "1", "Part 1", "1"), ("main", "3", "Part 1", "1")
    ]  # fmt: skip
    row = rows[0]
    assert row["participant"] == participant.pseudonym and row["platform_participant"] == PROLIFIC["PROLIFIC_PID"]
    assert row["condition"] == participant.condition.slug and row["dataset"] == "study-main"
    assert row["label"] == "real" and row["trial_status"] == "submitted" and row["mask_area"] == "600"
    assert row["guidance_ai_saliency"] == ("true" if participant.condition.slug == "ai-saliency" else "")
    catch = read_csv(client_for(researcher).get(f"/api/studies/{study.pk}/export/?kind=catch"))
    assert len(catch) == 1 and catch[0]["catch_passed"] in ("true", "false")


def test_the_export_of_one_condition_and_as_json_lines(study, researcher, client_for):
    for number in range(4):
        finish(participant_client(PROLIFIC_PID=f"p{number}")[0])
    client = client_for(researcher)
    for slug in ("no-help", "ai-saliency"):
        rows = read_csv(client.get(f"/api/studies/{study.pk}/export/?condition={slug}"))
        assert len(rows) == 4 and {r["condition"] for r in rows} == {slug}  # 2 participants each, 2 images each
    lines = b"".join(client.get(f"/api/studies/{study.pk}/export/?format=jsonl").streaming_content).splitlines()
    import json

    first = json.loads(lines[0])
    assert len(lines) == 8 and first["strokes"][0]["tool"] == "lasso" and first["guidance_events"] == []
    assert client.get(f"/api/studies/{study.pk}/export/?colour=red").status_code == 400


def test_excluded_participants_are_left_out_of_the_export_unless_asked(study, researcher, client_for):
    finish(participant_client(PROLIFIC_PID="a")[0])
    finish(participant_client(PROLIFIC_PID="b")[0])
    services.participant_set_excluded(participant_id=Participant.objects.get(number=1).pk, excluded=True)
    client = client_for(researcher)
    assert {r["participant_number"] for r in read_csv(client.get(f"/api/studies/{study.pk}/export/"))} == {"2"}
    every = read_csv(client.get(f"/api/studies/{study.pk}/export/?include_excluded=true"))
    assert {r["participant_number"] for r in every} == {"1", "2"}


def test_the_participants_table(study, researcher, client_for):
    client, _ = participant_client(**PROLIFIC)
    state = finish(client)
    participant_client(PROLIFIC_PID="later")  # enrolled, nothing more
    response = client_for(researcher).get(f"/api/studies/{study.pk}/participants/")
    done, later = read_csv(response)
    assert done["platform_participant"] == PROLIFIC["PROLIFIC_PID"] and done["platform_study"] == "60aa"
    assert (done["status"], done["consent_version"], done["answer_age"], done["answer_years"]) == (
        "completed", "v1", "18-30", ""
    )  # fmt: skip
    assert done["completion_code"] == state["completion"]["code"] and done["steps_reached"] == done["steps"] == "6"
    assert done["phase_order"] == "Part 1" and done["images_done"] == "5" and done["catch_judged"] == "1"
    assert float(done["total_seconds"]) >= 0
    assert (later["status"], later["steps_reached"], later["last_step"], later["completion_code"]) == (
        "active", "1", "Consent", ""
    )  # fmt: skip
    as_json = client_for(researcher).get(f"/api/studies/{study.pk}/participants/?format=json").json()
    assert as_json[0]["participant"] == done["participant"] and as_json[0]["answer_age"] == "18-30"


def test_image_files_do_not_vary_by_accept_so_a_file_fetched_ahead_is_found_offline(study):
    client, _ = participant_client(**PROLIFIC)
    go_to_practice(client)
    do_trials(client, 2)
    trial = client.get("/api/participation/trials/").json()["trials"][0]
    for url in (trial["image"]["file_url"], f"/api/participation/images/{trial['image']['id']}/ai-saliency"):
        response = client.get(url, HTTP_ACCEPT="image/avif,image/webp,*/*")
        if response.status_code == 404:
            continue  # the no-help condition shows no map
        assert "Accept" not in response.get("Vary", ""), url
        assert response["Cache-Control"] == "private, max-age=86400"


@pytest.mark.parametrize(
    ("args", "url"),
    [
        (["trials"], "export/"),
        (["trials", "--format", "jsonl"], "export/?format=jsonl"),
        (["trials", "--condition", "ai-saliency", "--kind", "all"], "export/?condition=ai-saliency&kind=all"),
        (["participants"], "participants/"),
        (["participants", "--format", "json"], "participants/?format=json"),
    ],
)
def test_the_command_writes_the_tables_the_api_downloads(study, researcher, client_for, tmp_path, args, url):
    for number in range(2):
        finish(participant_client(PROLIFIC_PID=f"table-{number}")[0])
    out = tmp_path / "table"
    call_command("export_study_data", "iris-test", *args, "--out", str(out), stderr=io.StringIO())
    response = client_for(researcher).get(f"/api/studies/{study.pk}/{url}")
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert out.read_bytes() == body and len(body) > 100


def test_the_tables_command_names_what_is_wrong(study, tmp_path):
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    with pytest.raises(CommandError, match="written as csv or json; got 'jsonl'"):
        call_command(
            "export_study_data", "iris-test", "participants", "--format", "jsonl", "--out", str(tmp_path / "x")
        )
    with pytest.raises(CommandError, match="there is no study 'nope'"):
        call_command("export_study_data", "nope", "trials", "--out", str(tmp_path / "x"))
    with pytest.raises(CommandError, match="does not exist"):
        call_command("export_study_data", "iris-test", "trials", "--out", str(tmp_path / "no" / "x"))
    assert list(tmp_path.iterdir()) == []


def test_a_participant_s_save_painting_more_ink_than_one_save_may_is_refused_and_stores_nothing(study):
    client, _ = participant_client(**PROLIFIC)
    go_to_practice(client)
    trial = client.get("/api/participation/trials/").json()["trials"][0]
    height = trial["image"]["height"]
    wide = brush([(0, 0), (0, height)] * 5000, width=100)  # each segment crosses every row: 9,999 x height units
    response = client.put(
        f"/api/participation/images/{trial['image']['id']}/annotation/", document([wide], label="real"), format="json"
    )
    assert response.status_code == 400 and response.json()["errors"][0]["code"] == "too_much_ink"
    assert not Annotation.objects.exists() and Trial.objects.get(pk=trial["id"]).status == Trial.Status.OPEN
