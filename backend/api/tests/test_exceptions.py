"""A database that cannot be reached answers 503 with Retry-After, in the API's error shape, and stores nothing.

The outage itself (Postgres restarted under load, a worker killed) is exercised for real by
deploy/tests/test_load_and_faults.py; here the database errors are raised where they would be.
"""

import pytest
from django.db import InterfaceError, OperationalError, ProgrammingError
from django.test import Client
from rest_framework.test import APIClient

from backend.api import selectors
from backend.api.models import Annotation
from backend.api.services import queue

from .conftest import brush, document

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
