"""One error shape for everything a client can get wrong, and a database away answering 503.

Errors in the API's shape also where no API view runs (no such endpoint, a request Django
refuses first). A database that cannot be reached answers 503 with Retry-After, in the API's
error shape, and stores nothing: the outage itself (Postgres restarted under load, a worker
killed) is exercised for real by deploy/tests/test_load_and_faults.py; here the database
errors are raised where they would be.
"""

import pytest
from django.db import InterfaceError, OperationalError, ProgrammingError
from django.test import Client
from rest_framework.test import APIClient

from backend.api import selectors
from backend.api.models import Annotation, Role
from backend.api.services import queue

from .conftest import brush, document

SHAPE = {"code", "detail", "errors"}

# What psycopg says when Postgres goes away under a connection, and when it is not back yet.
LOST = OperationalError("terminating connection due to administrator command\nserver closed the connection")
STARTING = OperationalError("connection failed: FATAL:  the database system is starting up")


MESSAGE = "The database cannot be reached right now (it may be restarting). Try again in a few seconds."


def assert_database_unavailable(response):
    assert response.status_code == 503
    assert response["Retry-After"] == "2"
    assert response.json() == {
        "code": "database_unavailable",
        "detail": MESSAGE,
        "errors": [{"field": None, "code": "database_unavailable", "detail": MESSAGE}],
    }


@pytest.mark.django_db
@pytest.mark.parametrize("error", [LOST, STARTING, InterfaceError("connection already closed")])
def test_an_api_request_while_the_database_is_away_answers_503_with_retry_after(
    error, annotator, client_for, monkeypatch
):
    def fail(**kwargs):
        raise error

    monkeypatch.setattr(selectors, "dataset_list", fail)
    assert_database_unavailable(client_for(annotator).get("/api/datasets/"))


@pytest.mark.django_db
def test_a_save_cut_off_by_the_database_stores_nothing_and_can_be_sent_again(annotator, image, client_for, monkeypatch):
    """The annotation row is written, then the connection is lost: the whole save is rolled back."""
    real = queue.annotation_saved

    def lost_after_the_annotation_was_written(**kwargs):
        assert Annotation.objects.filter(image=image, annotator=annotator).exists()  # written, not committed
        raise LOST

    monkeypatch.setattr(queue, "annotation_saved", lost_after_the_annotation_was_written)
    client = client_for(annotator)
    body = document([brush([(5, 5), (20, 20)])], label="real")
    assert_database_unavailable(client.put(f"/api/images/{image.pk}/annotation/", body, format="json"))
    assert not Annotation.objects.filter(image=image, annotator=annotator).exists()

    monkeypatch.setattr(queue, "annotation_saved", real)
    retried = client.put(f"/api/images/{image.pk}/annotation/", body, format="json")
    assert retried.status_code == 201
    assert retried.json()["version"] == 1


@pytest.mark.django_db
def test_the_login_answers_503_when_the_database_is_away(monkeypatch):
    def fail(*args, **kwargs):
        raise LOST

    monkeypatch.setattr("backend.api.views.auth.authenticate", fail)
    response = APIClient().post("/api/auth/token/login/", {"username": "ann", "password": "x" * 12}, format="json")
    assert_database_unavailable(response)


@pytest.mark.django_db
def test_a_page_outside_the_api_answers_503_when_the_database_is_away(monkeypatch):
    """Admin loads the session from the database before its view runs: Django's handler500 answers."""

    def fail(self, *args, **kwargs):
        raise LOST

    monkeypatch.setattr("django.contrib.sessions.backends.db.SessionStore.load", fail)
    client = Client(raise_request_exception=False)
    client.cookies["sessionid"] = "a-session-that-cannot-be-loaded"
    assert_database_unavailable(client.get("/api/admin/"))


@pytest.mark.django_db
def test_a_bug_in_a_query_is_still_a_500(annotator, monkeypatch):
    """Only errors that pass by themselves are 503s: a broken query is ours to fix, not the client's to retry."""

    def fail(**kwargs):
        raise ProgrammingError('relation "api_dataset" does not exist')

    monkeypatch.setattr(selectors, "dataset_list", fail)
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(annotator)
    response = client.get("/api/datasets/")
    assert response.status_code == 500
    assert "Retry-After" not in response


# --- Django's own errors, in the API's shape ------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/nothing/", "/api/images/1/nothing/", "/api/annotations/1/mask.gif"])
def test_a_path_that_is_no_endpoint_is_a_json_404_naming_it(path, client_for, make_user):
    # It was Django's HTML "Not Found" page, which no API client can read.
    response = client_for(make_user(Role.ADMIN)).get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == SHAPE and body["code"] == "no_endpoint"
    assert path in body["detail"] and "/api/docs/" in body["detail"]


@pytest.mark.django_db
def test_pages_outside_the_api_keep_djangos_own_404():
    response = Client().get("/static/nothing.js")
    assert response.status_code == 404 and "json" not in response["Content-Type"]


@pytest.mark.parametrize(
    "path, thing",
    [
        ("/api/images/987654/", "image 987654"),
        ("/api/datasets/987654/next/", "dataset 987654"),
        ("/api/annotations/987654/mask.png", "annotation 987654"),
        ("/api/images/987654/saliency.png", "image 987654"),
    ],
)
def test_an_object_not_found_is_named_in_the_404(path, thing, make_user, client_for):
    # It was DRF's bare "Not found.".
    response = client_for(make_user(Role.ADMIN)).get(path)
    assert response.status_code == 404
    assert (
        response.json()["detail"]
        == f"There is no {thing} that you may see: no such {thing.split()[0]}, or not one of yours."
    )


def test_an_object_one_may_not_see_gets_the_same_404_as_one_that_does_not_exist(demo_dataset, make_user, client_for):
    demo_dataset.access = demo_dataset.Access.CHOSEN
    demo_dataset.save()
    client = client_for(make_user(Role.ANNOTATOR))
    hidden = client.get(f"/api/datasets/{demo_dataset.pk}/").json()["detail"]
    missing = client.get(f"/api/datasets/{demo_dataset.pk + 1000}/").json()["detail"]
    assert hidden.replace(str(demo_dataset.pk), "N") == missing.replace(str(demo_dataset.pk + 1000), "N")


@pytest.mark.django_db
def test_a_request_with_too_many_fields_is_a_json_400(settings, make_user):
    # Django refuses it before any view (TooManyFieldsSent); it was an HTML page.
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    client = APIClient(raise_request_exception=False)  # as a real server: Django answers it
    client.force_authenticate(make_user(Role.ADMIN))
    query = "&".join(f"f{i}=1" for i in range(20))
    response = client.get(f"/api/datasets/?{query}")
    assert response.status_code == 400
    body = response.json()
    assert set(body) == SHAPE and body["code"] == "bad_request" and "more than 10 parameters" in body["detail"]


@pytest.mark.django_db
def test_an_unexpected_error_under_the_api_is_a_500_in_the_error_shape(annotator, monkeypatch):
    # It was Django's HTML "Server Error (500)" page.
    def fail(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(selectors, "dataset_list", fail)
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(annotator)
    response = client.get("/api/datasets/")
    assert response.status_code == 500
    assert set(response.json()) == SHAPE and response.json()["code"] == "server_error"
    assert "a bug" not in response.content.decode()  # nothing of the error leaks to the client
