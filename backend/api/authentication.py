"""Token authentication against ApiToken: expiring, and recording when each token was last used."""

from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions

from .token_models import ApiToken, token_digest

# A write per request would make every script's read a write; to the minute is enough to see
# which tokens are in use.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiTokenAuthentication(authentication.TokenAuthentication):
    """``Authorization: Token <key>``, as DRF's, for the per-sign-in and per-script tokens."""

    model = ApiToken

    def authenticate_credentials(self, key):
        token = ApiToken.objects.select_related("user").filter(digest=token_digest(key)).first()
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
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
        return token.user, token
