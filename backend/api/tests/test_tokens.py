"""API tokens: one per sign-in or script, each revoked alone, expiring, with its last use; admin and the command."""

import io
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from backend.api import services
from backend.api.models import Role
from backend.api.token_models import ApiToken, token_digest


def sign_in(user):
    response = APIClient().post(
        "/api/auth/token/login/", {"username": user.username, "password": "pw-" + user.username}
    )
    assert response.status_code == 200
    return response.json()["auth_token"]


def client_with(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_each_sign_in_gets_its_own_token(annotator):
    first, second = sign_in(annotator), sign_in(annotator)
    assert first != second and len(first) == 40  # the length DRF's keys had
    assert ApiToken.objects.filter(user=annotator).count() == 2


def test_signing_one_script_out_leaves_the_others_signed_in(annotator):
    first, second = sign_in(annotator), sign_in(annotator)
    assert client_with(first).post("/api/auth/token/logout/").status_code == 204
    assert client_with(first).get("/api/auth/me/").status_code == 401
    assert client_with(second).get("/api/auth/me/").json()["username"] == annotator.username


def test_only_the_keys_digest_is_stored(annotator):
    key = sign_in(annotator)
    token = ApiToken.objects.get(user=annotator)
    assert token.digest == token_digest(key) and token.prefix == key[:8]
    assert not ApiToken.objects.filter(digest=key).exists()


def test_a_token_records_when_it_was_last_used(annotator):
    key = sign_in(annotator)
    assert ApiToken.objects.get().last_used_at is None
    client_with(key).get("/api/auth/me/")
    used = ApiToken.objects.get().last_used_at
    assert used is not None and timezone.now() - used < timedelta(seconds=10)


def test_an_expired_token_is_refused_saying_so(annotator):
    token = services.api_token_create(user=annotator, expires_at=timezone.now() + timedelta(days=1))
    assert client_with(token.key).get("/api/auth/me/").status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client_with(token.key).get("/api/auth/me/")
    assert response.status_code == 401 and "expired" in response.json()["detail"]


def test_sign_in_tokens_expire_after_sign_in_token_days_when_set(annotator, settings):
    settings.SIGN_IN_TOKEN_DAYS = 7
    sign_in(annotator)
    left = ApiToken.objects.get().expires_at - timezone.now()
    assert timedelta(days=6, hours=23) < left <= timedelta(days=7)


def test_an_inactive_users_token_signs_nobody_in(annotator):
    key = sign_in(annotator)
    annotator.is_active = False
    annotator.save()
    assert client_with(key).get("/api/auth/me/").status_code == 401


def test_the_command_makes_a_token_for_a_script(annotator):
    out, err = io.StringIO(), io.StringIO()
    call_command("create_token", annotator.username, "--name", "nightly export", "--expires-days", "30", stdout=out,
                 stderr=err)  # fmt: skip
    key = out.getvalue().strip()
    assert client_with(key).get("/api/auth/me/").json()["username"] == annotator.username
    token = ApiToken.objects.get()
    assert token.name == "nightly export" and timedelta(days=29) < token.expires_at - timezone.now()
    assert "shown this once" in err.getvalue()


@pytest.mark.parametrize(
    "arguments, problem", [(["nobody"], "No user 'nobody'"), (["{user}", "--expires-days", "0"], "1 or more")]
)
def test_the_command_refuses_what_it_cannot_do(annotator, arguments, problem):
    with pytest.raises(CommandError, match=problem):
        call_command("create_token", *[a.format(user=annotator.username) for a in arguments], stdout=io.StringIO())
    assert not ApiToken.objects.exists()


def test_tokens_made_by_a_script_spare_the_sign_in_limit(make_user):
    # Ten scripts' accounts from one host: tokens made ahead, no sign-in, no 429.
    keys = [services.api_token_create(user=make_user(Role.ANNOTATOR)).key for _ in range(12)]
    assert all(client_with(key).get("/api/auth/me/").status_code == 200 for key in keys)


def test_admins_list_tokens_with_their_last_use(admin_client, annotator):
    sign_in(annotator)
    page = admin_client.get("/api/admin/api/apitoken/").content.decode()
    assert annotator.username in page and ApiToken.objects.get().prefix in page and "signed in from" in page


def test_admins_make_a_token_and_see_its_key_once(admin_client, annotator):
    form = {"user": annotator.pk, "name": "lab script", "expires_at_0": "", "expires_at_1": ""}
    response = admin_client.post("/api/admin/api/apitoken/add/", form, follow=True)
    assert response.status_code == 200
    text = response.content.decode()
    key = text.split("shown this once (copy it now): ")[1].split(" ")[0]
    assert client_with(key).get("/api/auth/me/").json()["username"] == annotator.username
    assert key not in admin_client.get(f"/api/admin/api/apitoken/{ApiToken.objects.get().pk}/change/").content.decode()


def test_admins_revoke_one_token_alone(admin_client, annotator):
    first, second = sign_in(annotator), sign_in(annotator)
    doomed = ApiToken.objects.get(digest=token_digest(first))
    response = admin_client.post(f"/api/admin/api/apitoken/{doomed.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert client_with(first).get("/api/auth/me/").status_code == 401
    assert client_with(second).get("/api/auth/me/").status_code == 200


def test_the_migration_keeps_drf_tokens_working(annotator):
    # Tokens of the former one-per-user table (rest_framework.authtoken) become ApiTokens with the same keys.
    from django.apps import apps

    migration = __import__("backend.api.migrations.0011_api_tokens_admins_test_work", fromlist=["copy_drf_tokens"])
    key = "0123456789abcdef" * 2 + "01234567"
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, user_id integer, created timestamp)")
        cursor.execute("INSERT INTO authtoken_token VALUES (%s, %s, %s)", [key, annotator.pk, timezone.now()])
    migration.copy_drf_tokens(apps, SimpleNamespace(connection=connection))  # it only reads its connection
    assert client_with(key).get("/api/auth/me/").json()["username"] == annotator.username
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM authtoken_token")
        assert cursor.fetchone() == (0,)  # no key left in clear
