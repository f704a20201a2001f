"""Read a CSV of accounts to create (username, email, optional password), and make passwords.

Pure: no ORM, no HTTP. ``services.users_create_from_csv`` checks the rows against the database
and creates the accounts.
"""

import csv
import io
import secrets
from dataclasses import dataclass

from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

COLUMNS = ("username", "email", "password")
MAX_ACCOUNTS = 5000
# No 0/O, 1/l/I: generated passwords are read off a screen or a sheet of paper.
PASSWORD_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
PASSWORD_GROUPS, PASSWORD_GROUP_LENGTH = 4, 5  # 20 characters, about 115 bits


@dataclass(frozen=True)
class AccountRow:
    """One account to create; ``password`` is empty when one is to be generated."""

    line: int
    username: str
    email: str
    password: str


class AccountsCsvInvalid(ValueError):
    """The CSV cannot be used; ``problems`` lists every problem, each naming its line."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def generate_password() -> str:
    """Return a random password that is easy to copy: four groups of five letters and digits."""
    groups = (
        "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_GROUP_LENGTH)) for _ in range(PASSWORD_GROUPS)
    )
    return "-".join(groups)


def read_accounts(text: str) -> list[AccountRow]:
    """Return the accounts of a CSV, or raise AccountsCsvInvalid listing every problem.

    The header row is optional: without one, the columns are username, email and password.
    Blank lines are ignored; the password column may be missing or empty.
    """
    text = text.removeprefix("\ufeff")
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as error:
        raise AccountsCsvInvalid([f"the file is not valid CSV: {error}"]) from None
    numbered = [(number, [cell.strip() for cell in record]) for number, record in enumerate(records, 1)]
    numbered = [(number, record) for number, record in numbered if any(record)]
    if not numbered:
        raise AccountsCsvInvalid(["the file has no accounts; write one per line: username,email,password"])
    columns = _header(*numbered[0])
    if columns is None:
        columns = list(COLUMNS)
    else:
        numbered = numbered[1:]
    if len(numbered) > MAX_ACCOUNTS:
        raise AccountsCsvInvalid([f"at most {MAX_ACCOUNTS} accounts at once; the file has {len(numbered)}"])
    problems, rows, seen = [], [], {}
    validate_username = UnicodeUsernameValidator()
    for number, record in numbered:
        if len(record) > len(columns):
            problems.append(f"line {number}: {len(record)} fields, but only {', '.join(columns)} are expected")
            continue
        values = dict(zip(columns, record + [""] * (len(columns) - len(record)), strict=True))
        username, email, password = values.get("username", ""), values.get("email", ""), values.get("password", "")
        if not username:
            problems.append(f"line {number}: the username is empty")
            continue
        try:
            validate_username(username)
            if len(username) > 150:
                raise ValidationError("too long")
        except ValidationError:
            problems.append(
                f"line {number}: {username!r} is not a valid username (letters, digits and @.+-_ only, "
                "at most 150 characters)"
            )
            continue
        if username.lower() in seen:
            problems.append(f"line {number}: the username {username!r} is already on line {seen[username.lower()]}")
            continue
        seen[username.lower()] = number
        if email:
            try:
                validate_email(email)
            except ValidationError:
                problems.append(f"line {number}: {email!r} is not a valid email address")
                continue
        rows.append(AccountRow(line=number, username=username, email=email, password=password))
    if problems:
        raise AccountsCsvInvalid(problems)
    if not rows:
        raise AccountsCsvInvalid(["the file has a header but no accounts"])
    return rows


def _header(number: int, record: list[str]) -> list[str] | None:
    """Return the columns the first line names, or None when it is not a header (it names no known column)."""
    first = [cell.lower() for cell in record]
    if not set(first) & set(COLUMNS):
        return None
    unknown = [name for name in first if name not in COLUMNS]
    if unknown or "username" not in first or len(set(first)) != len(first):
        raise AccountsCsvInvalid(
            [f"line {number}: the columns must be username, email and password; got {', '.join(first)}"]
        )
    return first


def accounts_csv(accounts) -> str:
    """Return the created accounts as CSV (username, email, password), to hand out or download."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["username", "email", "password"])
    for account in accounts:
        writer.writerow([account.username, account.email, account.password])
    return out.getvalue()
