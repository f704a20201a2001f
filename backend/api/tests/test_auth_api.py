"""Signing in and out: tokens for scripts, sessions with CSRF for the SPA, and who gets refused."""

import pytest
from rest_framework.test import APIClient

from backend.api.models import Role

PROTECTED = [
    ("get", "/api/datasets/"),
    ("get", "/api/datasets/1/"),
    ("get", "/api/datasets/1/next/"),
    ("get", "/api/images/"),
    ("get", "/api/images/1/"),
    ("get", "/api/images/1/file/"),
    ("get", "/api/images/1/annotation/"),
    ("put", "/api/images/1/annotation/"),
    ("get", "/api/annotations/"),
    ("get", "/api/annotations/1/"),
    ("get", "/api/auth/me/"),
    ("post", "/api/auth/logout/"),
    ("post", "/api/auth/token/logout/"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("method, url", PROTECTED)
def test_anonymous_requests_are_refused_with_401(method, url):
    response = getattr(APIClient(), method)(url, {}, format="json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Token")
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.django_db
@pytest.mark.parametrize("method, url", PROTECTED[:-3])
def test_a_user_without_a_role_is_refused_with_403(method, url, client_for, django_user_model):
    nobody = django_user_model.objects.create_user("nobody", password="x")
    response = getattr(client_for(nobody), method)(url, {}, format="json")
    assert response.status_code == 403
    assert "no role" in response.json()["detail"] or response.json()["code"] == "permission_denied"


def test_token_login_returns_a_token_that_authenticates(annotator):
    client = APIClient()
    response = client.post(
        "/api/auth/token/login/", {"username": annotator.username, "password": "pw-" + annotator.username}
    )
    assert response.status_code == 200
    token = response.json()["auth_token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/auth/me/").json()["role"] == "annotator"
    assert client.post("/api/auth/token/logout/").status_code == 204
    assert client.get("/api/auth/me/").status_code == 401


def test_a_wrong_password_is_refused_clearly(annotator):
    response = APIClient().post("/api/auth/token/login/", {"username": annotator.username, "password": "nope"})
    assert response.status_code == 401
    assert response.json() == {
        "code": "invalid_credentials",
        "detail": "Unable to sign in with this username and password.",
        "errors": [
            {
                "field": None,
                "code": "invalid_credentials",
                "detail": "Unable to sign in with this username and password.",
            }
        ],
    }


def test_login_without_a_password_names_the_missing_field(annotator):
    response = APIClient().post("/api/auth/token/login/", {"username": annotator.username}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "password"


def test_session_login_requires_the_csrf_token(annotator):
    client = APIClient(enforce_csrf_checks=True)
    credentials = {"username": annotator.username, "password": "pw-" + annotator.username}
    refused = client.post("/api/auth/login/", credentials, format="json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    token = client.get("/api/auth/csrf/").json()["csrf_token"]
    response = client.post("/api/auth/login/", credentials, format="json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200 and response.json()["username"] == annotator.username
    assert client.get("/api/auth/me/").status_code == 200


def test_session_writes_require_the_csrf_token(annotator):
    client = APIClient(enforce_csrf_checks=True)
    token = client.get("/api/auth/csrf/").json()["csrf_token"]
    client.post(
        "/api/auth/login/",
        {"username": annotator.username, "password": "pw-" + annotator.username},
        format="json",
        HTTP_X_CSRFTOKEN=token,
    )
    token = client.cookies["csrftoken"].value  # login rotates the token
    assert client.post("/api/auth/logout/").status_code == 403
    assert client.post("/api/auth/logout/", HTTP_X_CSRFTOKEN=token).status_code == 204
    assert client.get("/api/auth/me/").status_code == 401


def test_login_is_rate_limited_against_password_guessing(annotator, settings):
    client = APIClient()
    statuses = [
        client.post("/api/auth/token/login/", {"username": annotator.username, "password": f"guess{i}"}).status_code
        for i in range(12)
    ]
    assert statuses[:10] == [401] * 10
    assert statuses[10:] == [429, 429]


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.RESEARCHER, Role.ADMIN])
def test_me_reports_the_role(role, make_user, client_for):
    user = make_user(role, is_test=True)
    body = client_for(user).get("/api/auth/me/").json()
    assert (body["role"], body["is_test"]) == (role, True)


@pytest.mark.django_db
def test_health_reports_the_database_without_credentials():
    response = APIClient().get("/api/health/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


@pytest.mark.django_db
def test_the_openapi_schema_and_its_docs_are_served():
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/images/{id}/annotation/" in paths and "put" in paths["/api/images/{id}/annotation/"]
    assert APIClient().get("/api/docs/").status_code == 200
