"""API tokens for scripts: one per sign-in or per script, each revocable alone.

DRF's own Token is one per user, so signing one script out signed out every script of that
user. Here each sign-in (``POST /api/auth/token/login/``) gets its own token, and admins make
tokens for scripts (in admin, or ``manage.py create_token``) so scripts need not sign in at
all. Clients send them as before: ``Authorization: Token <key>``.

Only the key's SHA-256 is stored: the key itself is shown once, when the token is made, and a
copy of the database signs nobody in. Its first characters (``prefix``) name it in lists.
"""

import hashlib
import secrets

from django.conf import settings
from django.db import models

KEY_BYTES = 20  # 40 hex digits, as DRF's keys: clients that check the length keep working
PREFIX_LENGTH = 8


def token_digest(key: str) -> str:
    """Return the stored form of a key: its SHA-256, in hex."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_token_key() -> str:
    return secrets.token_hex(KEY_BYTES)


class ApiToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(
        max_length=200, blank=True, help_text="What the token is for: a script's name, or where it signed in from."
    )
    digest = models.CharField(max_length=64, unique=True, editable=False, help_text="SHA-256 of the key, in hex.")
    prefix = models.CharField(max_length=PREFIX_LENGTH, editable=False, help_text="The key's first characters.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When it last signed a request in (to the minute)."
    )
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="After this it signs nobody in; empty: it never expires."
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API token"

    def __str__(self):
        return f"{self.prefix}… of {self.user} ({self.name or 'no name'})"
