"""Signed study links over the API and the command: a study with platform.signed takes newcomers only by them."""

from datetime import timedelta
from io import StringIO
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from backend.api import services, studyfile
from backend.api.models import Participant, Role, Study
from backend.api.selectors.studies import study_link

from .study_fixtures import participant_client, study_spec, study_text
from .test_participation_api import stored

IDS = {"PROLIFIC_PID": "5f1a2b3c", "STUDY_ID": "60aa", "SESSION_ID": "s-1"}


@pytest.fixture
def signed_study(study_datasets):
    return services.study_import(
        text=study_text(platform={"name": "prolific", "require_participant": False, "signed": True})
    ).study


def params_of(link: str) -> dict:
    return dict(parse_qsl(urlsplit(link).query))


def test_a_signed_link_enrols_and_keeps_the_ids_it_carries(signed_study):
    link = study_link(signed_study, params=IDS)
    assert link.startswith("/s/iris-test/?") and "sig=" in link
    client, response = participant_client(**params_of(link))
    assert response.status_code == 201, response.content
    assert Participant.objects.get().platform_ids == {"participant": "5f1a2b3c", "study": "60aa", "session": "s-1"}
    assert client.post("/api/studies/iris-test/enrol/", {"params": {}}, format="json").status_code == 200  # a reload
    _, again = participant_client(**params_of(link))  # the same link in another browser: the same participant
    assert again.status_code == 200 and Participant.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"PROLIFIC_PID": "someone-else"}, "tampered_link"),
        ({"STUDY_ID": "61bb"}, "tampered_link"),
        ({"sig": "0" * 64}, "tampered_link"),
        ({"sig": None}, "unsigned_link"),
    ],
)
def test_a_tampered_or_unsigned_link_is_refused_and_stores_nothing(signed_study, change, code):
    params = {**params_of(study_link(signed_study, params=IDS)), **change}
    params = {name: value for name, value in params.items() if value is not None}
    before = stored()
    _, response = participant_client(**params)
    assert response.status_code == 400
    assert response.json()["code"] == code and "exactly as you received it" in response.json()["detail"]
    assert stored() == before


def test_a_signed_study_refuses_a_bare_link_and_a_stranger_s_reload(signed_study):
    _, response = participant_client()
    assert response.status_code == 400 and response.json()["code"] == "unsigned_link"
    assert Participant.objects.count() == 0


def test_an_expired_link_is_refused(signed_study):
    link = study_link(signed_study, params=IDS, expires=timezone.now() - timedelta(minutes=1))
    _, response = participant_client(**params_of(link))
    assert response.status_code == 400 and response.json()["code"] == "link_expired"
    assert Participant.objects.count() == 0


def test_another_study_s_signed_link_is_refused(signed_study):
    spec = study_spec(slug="other", platform={"name": "prolific", "require_participant": False, "signed": True})
    other = services.study_import(text=studyfile.write_study(studyfile.canonical(spec))).study
    _, response = participant_client(**params_of(study_link(other, params=IDS)))
    assert response.status_code == 400 and response.json()["code"] == "tampered_link"


def test_a_study_that_does_not_sign_takes_plain_links(study):
    link = study_link(study, params={"PROLIFIC_PID": "p 1"})
    assert link == "/s/iris-test/?PROLIFIC_PID=p%201" and "sig" not in params_of(link)


def test_the_command_prints_a_signed_link_that_enrols(signed_study):
    out = StringIO()
    call_command(
        "study_link", "iris-test", "PROLIFIC_PID=abc", "--expires-in-hours", "2", "--base-url", "https://h/", stdout=out
    )
    link = out.getvalue().strip()
    assert link.startswith("https://h/s/iris-test/?PROLIFIC_PID=abc&expires=")
    _, response = participant_client(**params_of(link))
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "there is no study 'nope'"),
        (["iris-test", "workerId=1"], "not workerId"),
        (["iris-test", "PROLIFIC_PID"], "NAME=VALUE"),
        (["iris-test", "--expires-in-hours", "0"], "must be above 0"),
    ],
)
def test_the_command_names_what_is_wrong(signed_study, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("study_link", *args, stdout=StringIO())


def test_signing_needs_a_parameter_to_sign():
    with pytest.raises(studyfile.StudyFileInvalid) as raised:
        studyfile.canonical(study_spec(platform={"name": "none", "signed": True}))
    assert raised.value.problems == [
        "platform.signed: signs the link's platform ids: name at least one in platform.params"
    ]


def test_the_signing_key_is_on_the_admin_page_of_a_signed_study(signed_study, client, make_user):
    admin = make_user(Role.ADMIN)
    admin.is_superuser = True
    admin.save()
    client.force_login(admin)
    page = client.get(reverse("admin:api_study_change", args=[signed_study.pk])).content.decode()
    assert Study.objects.get().secret in page and "manage.py study_link iris-test" in page
