"""Writes on API tokens: making one (a sign-in's, a script's, an imported one) and revoking it."""

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ..token_models import PREFIX_LENGTH, ApiToken, new_token_key, token_digest


@transaction.atomic
def api_token_create(
    *, user: User, name: str = "", expires_at: datetime | None = None, key: str | None = None
) -> ApiToken:
    """Make a token for the user and return it, its key in ``key`` (shown once; only its digest is stored).

    ``key``: keep a key the user already has (one imported from the original EyeTagger).
    """
    key = key or new_token_key()
    token = ApiToken(user=user, name=name[:200], digest=token_digest(key), prefix=key[:PREFIX_LENGTH])
    token.expires_at = expires_at
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "The expiry must be in the future."}, code="expired")
    token.full_clean()
    token.save()
    token.key = key
    return token


def api_token_sign_in(*, user: User, name: str) -> ApiToken:
    """Make the token of one sign-in, expiring after SIGN_IN_TOKEN_DAYS (0: never)."""
    days = settings.SIGN_IN_TOKEN_DAYS
    expires_at = timezone.now() + timedelta(days=days) if days else None
    return api_token_create(user=user, name=name, expires_at=expires_at)


def api_token_revoke(*, token: ApiToken) -> None:
    """Revoke this one token; the user's other tokens keep working."""
    token.delete()
