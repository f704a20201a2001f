"""Signing in and out: tokens for scripts, sessions with CSRF for the SPA, and who gets refused."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from backend.api.authentication import TokenAuthentication
from backend.api.models import Role
from backend.api.permissions import user_role

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


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.RESEARCHER, Role.ADMIN, None])
def test_a_token_gives_its_user_and_their_role_in_one_query(role, make_user, django_user_model):
    user = make_user(role) if role else django_user_model.objects.create_user("nobody", password="x")
    key = Token.objects.create(user=user).key
    with CaptureQueriesContext(connection) as queries:
        found, token = TokenAuthentication().authenticate_credentials(key)
        assert user_role(found) == role  # known with the user: no query of the groups
    assert len(queries) == 1
    assert (found.pk, found.username, token.key, token.user_id) == (user.pk, user.username, key, user.pk)
    if role is not None:
        answer = APIClient().get("/api/auth/me/", HTTP_AUTHORIZATION=f"Token {key}").json()
        assert answer["role"] == role


def test_an_unknown_token_or_an_inactive_users_token_is_refused(annotator):
    key = Token.objects.create(user=annotator).key
    client = APIClient()
    assert client.get("/api/auth/me/", HTTP_AUTHORIZATION=f"Token {key}x").json()["detail"] == "Invalid token."
    annotator.is_active = False
    annotator.save()
    response = client.get("/api/auth/me/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 401 and response.json()["detail"] == "User inactive or deleted."


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


@pytest.fixture
def clock(monkeypatch):
    """The login throttle's clock, in seconds, moved by hand."""
    now = [1_000_000.0]
    monkeypatch.setattr(SimpleRateThrottle, "timer", staticmethod(lambda: now[0]))
    return now


def guess(client, user, password="wrong", session=False, **extra):
    credentials = {"username": user.username, "password": password}
    if not session:
        return client.post("/api/auth/token/login/", credentials, format="json", **extra)
    token = client.get("/api/auth/csrf/").json()["csrf_token"]
    return client.post("/api/auth/login/", credentials, format="json", HTTP_X_CSRFTOKEN=token, **extra)


def test_the_session_login_is_rate_limited_too(annotator):
    client = APIClient(enforce_csrf_checks=True)
    statuses = [guess(client, annotator, session=True).status_code for _ in range(11)]
    assert statuses == [401] * 10 + [429]


def test_session_and_token_logins_share_one_count_per_address(annotator):
    client = APIClient(enforce_csrf_checks=True)
    statuses = [guess(client, annotator, session=i % 2 == 0).status_code for i in range(11)]
    assert statuses == [401] * 10 + [429]  # switching endpoints does not double the guesses


def test_a_refused_login_says_when_to_try_again(annotator, clock):
    client = APIClient()
    for _ in range(10):
        guess(client, annotator)
    clock[0] += 15
    response = guess(client, annotator)
    assert response.status_code == 429
    assert response["Retry-After"] == "45"
    assert response.json()["code"] == "throttled"
    assert response.json()["detail"] == "Request was throttled. Expected available in 45 seconds."


def test_while_locked_even_the_right_password_is_refused(annotator):
    client = APIClient()
    for _ in range(10):
        guess(client, annotator)
    assert guess(client, annotator, password="pw-" + annotator.username).status_code == 429  # no oracle


def test_the_lock_lifts_once_the_window_has_passed(annotator, clock):
    client = APIClient()
    for _ in range(10):
        guess(client, annotator)
    clock[0] += 59
    assert guess(client, annotator).status_code == 429
    clock[0] += 2  # a minute after the first guesses
    assert guess(client, annotator, password="pw-" + annotator.username).status_code == 200


def test_the_lock_holds_one_client_address_only(annotator):
    client = APIClient()
    for _ in range(11):
        guess(client, annotator, REMOTE_ADDR="203.0.113.7")
    assert guess(client, annotator, REMOTE_ADDR="203.0.113.7").status_code == 429
    assert guess(client, annotator, REMOTE_ADDR="198.51.100.2").status_code == 401


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
def test_health_answers_503_without_naming_the_database_when_it_does_not_answer(monkeypatch, caplog):
    from django.db import OperationalError
    from django.db.backends.utils import CursorWrapper

    def refuse(*args, **kwargs):
        raise OperationalError('connection to server at "db.internal" (10.0.0.5), port 5432 failed')

    monkeypatch.setattr(CursorWrapper, "execute", refuse)
    response = APIClient().get("/api/health/")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "unavailable"}
    assert response["Retry-After"]
    assert "db.internal" in caplog.text  # the operator still learns why, from the log


@pytest.mark.django_db
def test_the_openapi_schema_and_its_docs_are_served():
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/images/{id}/annotation/" in paths and "put" in paths["/api/images/{id}/annotation/"]
    assert APIClient().get("/api/docs/").status_code == 200


def admin_guess(client, user, password="wrong", **extra):
    return client.post("/api/admin/login/?next=/api/admin/", {"username": user.username, "password": password}, **extra)


def test_the_admin_sign_in_is_rate_limited_too(make_user, client):
    boss = make_user(Role.ADMIN)
    statuses = [admin_guess(client, boss).status_code for _ in range(12)]
    assert statuses == [200] * 10 + [429, 429]  # the form again, then refused
    refused = admin_guess(client, boss, password="pw-" + boss.username)
    assert refused.status_code == 429  # even the right password: no oracle
    assert "Too many sign-in attempts from your address" in refused.content.decode()
    assert 1 <= int(refused["Retry-After"]) <= 60


def test_the_admin_and_the_api_sign_ins_share_one_count_per_address(make_user, client):
    boss = make_user(Role.ADMIN)
    for _ in range(5):
        guess(APIClient(), boss)
    statuses = [admin_guess(client, boss).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    assert guess(APIClient(), boss).status_code == 429


def test_the_admin_sign_in_still_signs_in_below_the_limit(make_user, client):
    boss = make_user(Role.ADMIN)
    admin_guess(client, boss)
    response = admin_guess(client, boss, password="pw-" + boss.username)
    assert response.status_code == 302
    assert client.get("/api/admin/").status_code == 200


def test_showing_the_admin_sign_in_form_is_not_counted(make_user, client):
    boss = make_user(Role.ADMIN)
    for _ in range(15):
        assert client.get("/api/admin/login/").status_code == 200
    assert admin_guess(client, boss).status_code == 200
