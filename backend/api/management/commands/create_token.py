from datetime import timedelta

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from backend.api import services


class Command(BaseCommand):
    help = (
        "Make an API token for a script, so it need not sign in: prints the key once (only its digest is kept). "
        "Send it as 'Authorization: Token <key>'. Each token is revoked alone (in admin, or by the script "
        "calling POST /api/auth/token/logout/)."
    )

    def add_arguments(self, parser):
        parser.add_argument("username", help="The account the script acts as.")
        parser.add_argument("--name", default="", help="What the token is for, shown in admin's list of tokens.")
        parser.add_argument(
            "--expires-days",
            type=int,
            default=None,
            metavar="DAYS",
            help="Expire after this many days (default: never).",
        )

    def handle(self, *args, username, name, expires_days, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}; create_accounts makes one.")
        if expires_days is not None and expires_days < 1:
            raise CommandError(f"--expires-days must be 1 or more; got {expires_days}.")
        expires_at = timezone.now() + timedelta(days=expires_days) if expires_days else None
        token = services.api_token_create(user=user, name=name or "made by create_token", expires_at=expires_at)
        until = f"until {expires_at:%Y-%m-%d %H:%M} UTC" if expires_at else "with no expiry"
        self.stderr.write(f"Token {token.prefix}… for {username}, {until}. Its key, shown this once:")
        self.stdout.write(token.key)
