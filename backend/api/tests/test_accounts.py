"""Creating many annotator accounts from a CSV: the pure reader, the service, the command and the admin page."""

import base64
import io

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from backend.api import accounts, services
from backend.api.models import Dataset, Role
from backend.api.permissions import user_role

# --- The pure reader -------------------------------------------------------------------------


def test_a_header_is_optional_and_the_password_column_too():
    with_header = accounts.read_accounts("username,email,password\nalice,alice@lab.org,\nbob,,s3cret-Pass\n")
    without = accounts.read_accounts("alice,alice@lab.org\nbob,,s3cret-Pass\n")
    for rows in (with_header, without):
        assert [(r.username, r.email, r.password) for r in rows] == [
            ("alice", "alice@lab.org", ""),
            ("bob", "", "s3cret-Pass"),
        ]


def test_columns_may_come_in_any_order_when_named():
    (row,) = accounts.read_accounts("email,username\ncarol@lab.org,carol\n")
    assert (row.username, row.email) == ("carol", "carol@lab.org")


@pytest.mark.parametrize(
    "text, problem",
    [
        ("", "has no accounts"),
        ("username,email\n", "a header but no accounts"),
        ("name,email\nalice,a@b.org\n", "line 1: the columns must be username, email and password"),
        ("username,mail\nalice,a@b.org\n", "the columns must be username, email and password"),
        ("alice,not-an-email\n", "line 1: 'not-an-email' is not a valid email address"),
        ("al ice,a@b.org\n", "line 1: 'al ice' is not a valid username"),
        ("alice,a@b.org\nALICE,c@d.org\n", "line 2: the username 'ALICE' is already on line 1"),
        ("alice,a@b.org,pw,extra\n", "line 1: 4 fields"),
        (",a@b.org\n", "line 1: the username is empty"),
    ],
)
def test_every_problem_names_its_line(text, problem):
    with pytest.raises(accounts.AccountsCsvInvalid) as raised:
        accounts.read_accounts(text)
    assert any(problem in p for p in raised.value.problems), raised.value.problems


def test_every_problem_of_a_file_is_listed_at_once():
    with pytest.raises(accounts.AccountsCsvInvalid) as raised:
        accounts.read_accounts("al ice,a@b.org\nbob,nope\ncarol,c@d.org\n")
    assert len(raised.value.problems) == 2


def test_generated_passwords_are_long_readable_and_different():
    passwords = {accounts.generate_password() for _ in range(50)}
    assert len(passwords) == 50
    for password in passwords:
        groups = password.split("-")
        assert [len(g) for g in groups] == [5, 5, 5, 5]
        assert not set(password) & set("0O1lI")


# --- The service -------------------------------------------------------------------------------


def test_accounts_are_created_as_annotators_with_working_passwords(db):
    created = services.users_create_from_csv(csv_text="alice,alice@lab.org\nbob,,Unusual-Pass-42\n")
    assert [(a.username, a.generated) for a in created] == [("alice", True), ("bob", False)]
    for account in created:
        user = authenticate(username=account.username, password=account.password)
        assert user is not None and user.groups.filter(name=Role.ANNOTATOR).exists()
        assert user.profile.is_test is False
    assert User.objects.get(username="alice").email == "alice@lab.org"


def test_a_generated_password_is_rehashed_at_full_strength_at_first_sign_in(db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    (account,) = services.users_create_from_csv(csv_text="alice,\n")
    assert User.objects.get(username="alice").password.startswith("pbkdf2_sha256$1000$")
    assert authenticate(username="alice", password=account.password) is not None
    assert not User.objects.get(username="alice").password.startswith("pbkdf2_sha256$1000$")


def test_nothing_is_created_when_any_line_has_a_problem(make_user):
    make_user(username="taken")
    with pytest.raises(Exception) as raised:
        services.users_create_from_csv(csv_text="fresh,\ntaken,\nweak,,123\n")
    messages = raised.value.messages
    assert "line 2: the username 'taken' is already taken" in messages
    assert any(m.startswith("line 3: the password of 'weak'") for m in messages)
    assert not User.objects.filter(username="fresh").exists()


def test_accounts_may_be_test_users_chosen_for_datasets(db, make_dataset):
    closed = make_dataset(2, access=Dataset.Access.CHOSEN)
    services.users_create_from_csv(csv_text="alice,\nbob,\n", is_test=True, datasets=[closed])
    assert set(closed.annotators.values_list("username", flat=True)) == {"alice", "bob"}
    assert set(User.objects.values_list("profile__is_test", flat=True)) == {True}


# --- The command -------------------------------------------------------------------------------


def test_the_command_prints_each_password_once(tmp_path, db):
    sheet = tmp_path / "users.csv"
    sheet.write_text("username,email,password\nalice,alice@lab.org,\n")
    out = io.StringIO()
    call_command("create_annotators", str(sheet), stdout=out)
    printed = out.getvalue()
    assert "Created 1 annotator accounts" in printed
    password = printed.strip().splitlines()[-1].split()[-1]
    assert authenticate(username="alice", password=password) is not None


def test_the_command_can_write_the_passwords_to_a_private_file(tmp_path, db, make_dataset):
    closed = make_dataset(1, access=Dataset.Access.CHOSEN)
    sheet, output = tmp_path / "users.csv", tmp_path / "passwords.csv"
    sheet.write_text("alice,\nbob,\n")
    call_command(
        "create_annotators",
        str(sheet),
        "--test",
        "--dataset",
        closed.slug,
        "--output",
        str(output),
        stdout=io.StringIO(),
    )
    rows = accounts.read_accounts(output.read_text())
    assert [r.username for r in rows] == ["alice", "bob"]
    assert (output.stat().st_mode & 0o777) == 0o600
    assert authenticate(username="bob", password=rows[1].password).profile.is_test


def test_the_command_reports_every_problem_and_creates_nothing(tmp_path, db):
    sheet = tmp_path / "users.csv"
    sheet.write_text("alice,nope\nbob,bob@lab.org\n")
    with pytest.raises(CommandError, match="(?s)nothing was created.*line 1: 'nope' is not a valid email"):
        call_command("create_annotators", str(sheet))
    assert not User.objects.exists()


def test_the_command_refuses_an_unknown_dataset(tmp_path, db):
    sheet = tmp_path / "users.csv"
    sheet.write_text("alice,\n")
    with pytest.raises(CommandError, match="No dataset with the slug nowhere"):
        call_command("create_annotators", str(sheet), "--dataset", "nowhere")


# --- The admin page ------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client, make_user):
    boss = make_user(Role.ADMIN)
    boss.is_superuser = True
    boss.save()
    client.force_login(boss)
    return client


def test_admins_create_accounts_from_a_pasted_csv_and_get_a_download(admin_client):
    page = admin_client.get("/api/admin/auth/user/create-annotators/")
    assert page.status_code == 200
    response = admin_client.post("/api/admin/auth/user/create-annotators/", {"text": "alice,alice@lab.org\nbob,\n"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "shown only this once" in body
    download = body.split('href="data:text/csv;charset=utf-8;base64,')[1].split('"')[0]
    rows = accounts.read_accounts(base64.b64decode(download).decode())
    assert [r.username for r in rows] == ["alice", "bob"]
    assert rows[0].password in body
    assert authenticate(username="alice", password=rows[0].password) is not None
    assert "no-store" in response["Cache-Control"] or "no-cache" in response["Cache-Control"]


def test_admins_create_accounts_from_an_uploaded_file(admin_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("users.csv", b"username,email\ncarol,carol@lab.org\n", content_type="text/csv")
    response = admin_client.post("/api/admin/auth/user/create-annotators/", {"file": upload, "is_test": "on"})
    assert response.status_code == 200 and "carol" in response.content.decode()
    assert User.objects.get(username="carol").profile.is_test


def test_the_admin_page_lists_every_problem_and_creates_nothing(admin_client):
    response = admin_client.post("/api/admin/auth/user/create-annotators/", {"text": "al ice,\nbob,nope\n"})
    body = response.content.decode()
    assert "Nothing was created" in body and "line 1" in body and "line 2" in body
    assert not User.objects.filter(username="bob").exists()


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.RESEARCHER, Role.ADMIN])
def test_the_command_creates_accounts_of_any_role(tmp_path, db, role):
    sheet = tmp_path / "users.csv"
    sheet.write_text("alice,alice@lab.org\n")
    out = io.StringIO()
    call_command("create_accounts", str(sheet), "--role", role.value, stdout=out)
    assert f"Created 1 {role.value} accounts" in out.getvalue()
    password = out.getvalue().strip().splitlines()[-1].split()[-1]
    alice = authenticate(username="alice", password=password)
    assert user_role(alice) == role
    assert alice.is_superuser == (role == Role.ADMIN)  # an admin manages everything in Django admin


def test_the_command_creates_named_accounts_without_a_csv(db):
    out = io.StringIO()
    call_command("create_accounts", "--username", "rita", "--username", "rob", "--role", "researcher", stdout=out)
    lines = out.getvalue().strip().splitlines()[-2:]
    for line, name in zip(lines, ["rita", "rob"], strict=True):
        assert user_role(authenticate(username=name, password=line.split()[-1])) == Role.RESEARCHER


@pytest.mark.parametrize(
    "arguments, problem",
    [
        ([], "Give a CSV file of accounts, or --username"),
        (["users.csv", "--username", "rita"], "not both"),
        (["--username", "bad name"], "not a valid username"),
    ],
)
def test_the_command_says_what_is_missing_or_wrong(db, arguments, problem):
    with pytest.raises(CommandError, match=problem):
        call_command("create_accounts", *arguments)
    assert not User.objects.exists()


def test_the_command_refuses_an_unknown_role(db):
    with pytest.raises(CommandError, match="invalid choice: 'boss'"):
        call_command("create_accounts", "--username", "rita", "--role", "boss")
