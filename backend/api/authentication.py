"""Token authentication against ApiToken, reading the token, its user and the user's role in one query.

Expiring tokens are refused, and each token records when it was last used (to the minute).
"""

from datetime import UTC, timedelta

from django.contrib.auth.models import Group, User
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from .models import Role
from .permissions import remember_role, role_of
from .rows import row_read
from .token_models import ApiToken, token_digest

# A write per request would make every script's read a write; to the minute is enough to see
# which tokens are in use.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiTokenAuthentication(authentication.TokenAuthentication):
    """DRF's ``TokenAuthentication`` (same ``Token <key>`` header, answers and errors), against ApiToken, in one query.

    DRF would read the token with its user, and the permissions then the user's groups to find
    their role (``permissions.user_role``). Here one raw query answers both, and the role is
    remembered on the user for the rest of the request. Every request of a script or of the
    load tests comes this way, ``next`` among them, so a round trip and the ORM's compiling of
    two queries are saved on each.
    """

    model = ApiToken

    def authenticate_credentials(self, key):
        user_groups = User.groups.through._meta.db_table
        group_member = (
            f"EXISTS (SELECT 1 FROM {user_groups} ug JOIN {Group._meta.db_table} g ON g.id = ug.group_id "
            "WHERE ug.user_id = u.id AND g.name = %s)"
        )
        sql = (
            f"SELECT u.*, t.id AS token_id, t.expires_at AS token_expires_at, t.last_used_at AS token_last_used_at, "
            f"{group_member} AS in_researchers, {group_member} AS in_annotators "
            f"FROM {ApiToken._meta.db_table} t JOIN {User._meta.db_table} u ON u.id = t.user_id WHERE t.digest = %s"
        )
        params = [Role.RESEARCHER.value, Role.ANNOTATOR.value, token_digest(key)]
        user = row_read(User, sql, params)
        if user is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        token = ApiToken(
            pk=user.token_id,
            user=user,
            expires_at=_aware(user.token_expires_at),
            last_used_at=_aware(user.token_last_used_at),
        )
        now = timezone.now()
        if token.expires_at is not None and token.expires_at <= now:
            raise exceptions.AuthenticationFailed(
                f"This token expired at {token.expires_at:%Y-%m-%d %H:%M} UTC; sign in again or ask an admin for a "
                "new one.",
                code="token_expired",
            )
        if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now
        groups = {
            name
            for name, member in ((Role.RESEARCHER, user.in_researchers), (Role.ANNOTATOR, user.in_annotators))
            if member
        }
        remember_role(user, role_of(is_staff=user.is_staff, groups=groups))
        return user, token


def _aware(value):
    """Return a raw query's date-time column as an aware datetime (extra columns go unconverted on SQLite)."""
    parsed = parse_datetime(value) if isinstance(value, str) else value  # SQLite: text or a naive datetime
    return parsed if parsed is None or timezone.is_aware(parsed) else parsed.replace(tzinfo=UTC)
