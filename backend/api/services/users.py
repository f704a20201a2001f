"""Writes on users: creating them with a role and a profile, one at a time or many from a CSV."""

from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.hashers import PBKDF2PasswordHasher, get_hasher
from django.contrib.auth.models import Group, User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from .. import accounts
from ..models import Dataset, Profile, Role
from . import queue

# Generated passwords are random 115-bit secrets: stretching them (about 0.4 s each with the
# default hasher) adds nothing against guessing, and would make creating a few hundred
# accounts take minutes. They are hashed with few PBKDF2 rounds; Django hashes them again at
# full strength the first time each user signs in (the hasher asks for it when rounds differ).
GENERATED_PASSWORD_ITERATIONS = 1000


@dataclass(frozen=True)
class NewAccount:
    """An account just created, with its password in clear: shown once, never stored."""

    username: str
    email: str
    password: str
    generated: bool


def user_set_role(*, user: User, role: Role | None) -> None:
    """Give the user exactly one role: annotator or researcher (groups), or admin (staff); None: no role."""
    groups = {g.name: g for g in Group.objects.filter(name__in=[Role.ANNOTATOR, Role.RESEARCHER])}
    user.groups.remove(*groups.values())
    user.is_staff = role == Role.ADMIN
    if role in (Role.ANNOTATOR, Role.RESEARCHER):
        group = groups.get(role) or Group.objects.get_or_create(name=role)[0]
        user.groups.add(group)
    user.save(update_fields=["is_staff"])


@transaction.atomic
def user_create(
    *, username: str, password: str, role: Role, email: str = "", is_test: bool = False, superuser: bool = False
) -> User:
    """Create a user with a role and a profile."""
    user = User(username=username, email=email, is_superuser=superuser)
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    profile, _ = Profile.objects.get_or_create(user=user)  # the post_save signal has usually made it
    if profile.is_test != is_test:
        profile.is_test = is_test
        profile.save(update_fields=["is_test"])
    user.profile = profile
    user_set_role(user=user, role=role)
    return user


@transaction.atomic
def user_set_test(*, user: User, is_test: bool) -> None:
    """Mark the user as a test user (their work never counts) or not, recounting the datasets they worked on."""
    profile, _ = Profile.objects.select_for_update().get_or_create(user=user)
    user.profile = profile
    if profile.is_test == is_test:
        return
    profile.is_test = is_test
    profile.save(update_fields=["is_test"])
    queue.user_datasets_recount(user=user)


@transaction.atomic
def users_create_from_csv(
    *, csv_text: str, role: Role = Role.ANNOTATOR, is_test: bool = False, datasets: Iterable[Dataset] = ()
) -> list[NewAccount]:
    """Create an account for every row of a CSV (username, email, optional password); all or none.

    Rows without a password get a generated one. Every problem (a malformed row, a username
    already taken, a password too weak) is reported at once, naming its line, and then nothing
    is created. ``datasets``: datasets open to chosen annotators that the new accounts may work on.
    Admins are created as superusers, so they may manage everything in Django admin.
    """
    try:
        rows = accounts.read_accounts(csv_text)
    except accounts.AccountsCsvInvalid as error:
        raise ValidationError(error.problems, code="invalid_csv") from None
    problems = []
    taken = set(User.objects.filter(username__in=[row.username for row in rows]).values_list("username", flat=True))
    for row in rows:
        if row.username in taken:
            problems.append(f"line {row.line}: the username {row.username!r} is already taken")
        elif row.password:
            try:
                validate_password(row.password, User(username=row.username, email=row.email))
            except ValidationError as error:
                problems.append(f"line {row.line}: the password of {row.username!r}: {' '.join(error.messages)}")
    if problems:
        raise ValidationError(problems, code="invalid_csv")
    hasher = get_hasher()  # the preferred one
    quick = isinstance(hasher, PBKDF2PasswordHasher)
    created, users = [], []
    for row in rows:
        generated = not row.password
        password = row.password or accounts.generate_password()
        user = User(username=row.username, email=row.email)
        if generated and quick:
            user.password = hasher.encode(password, hasher.salt(), iterations=GENERATED_PASSWORD_ITERATIONS)
        else:
            user.set_password(password)
        users.append(user)
        created.append(NewAccount(row.username, row.email, password, generated))
    User.objects.bulk_create(users, batch_size=500)
    users = list(User.objects.filter(username__in=[row.username for row in rows]))
    # bulk_create sends no post_save signal: the profiles are made here.
    Profile.objects.bulk_create([Profile(user=user, is_test=is_test) for user in users], ignore_conflicts=True)
    group = Group.objects.get_or_create(name=role)[0] if role in (Role.ANNOTATOR, Role.RESEARCHER) else None
    if group is not None:
        group.user_set.add(*users)
    elif role == Role.ADMIN:
        # Superusers too: a staff account without Django permissions would see an empty admin.
        User.objects.filter(pk__in=[u.pk for u in users]).update(is_staff=True, is_superuser=True)
    for dataset in datasets:
        dataset.annotators.add(*users)
    return created
