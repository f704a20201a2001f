"""Writes on users: creating them with a role and a profile."""

from django.contrib.auth.models import Group, User
from django.db import transaction

from ..models import Profile, Role
from . import queue


def user_set_role(*, user: User, role: Role) -> None:
    """Give the user exactly one role: annotator or researcher (groups), or admin (staff)."""
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
