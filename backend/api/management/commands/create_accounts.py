import os
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from backend.api import accounts, services
from backend.api.models import Dataset, Role


class Command(BaseCommand):
    help = (
        "Create accounts of any role (annotator, researcher or admin) from a CSV of username, email and optional "
        "password (a header row is optional), or name them with --username. Missing passwords are generated and "
        "shown once: printed, or written to --output. All or nothing: any problem is reported by line and no account "
        "is created. Admins are superusers: they manage everything in Django admin."
    )
    default_role = Role.ANNOTATOR

    def add_arguments(self, parser):
        parser.add_argument(
            "csv", type=Path, nargs="?", help="The CSV file: username,email[,password] per line (or use --username)."
        )
        parser.add_argument(
            "--username",
            action="append",
            default=[],
            metavar="NAME",
            help="Create this account, with a generated password, instead of reading a CSV; repeatable.",
        )
        parser.add_argument(
            "--role",
            choices=[role.value for role in Role],
            default=self.default_role.value,
            help=f"The accounts' role (default: {self.default_role.value}).",
        )
        parser.add_argument("--test", action="store_true", help="Make them test users (their work never counts).")
        parser.add_argument(
            "--dataset",
            action="append",
            default=[],
            metavar="SLUG",
            help="Also let them work on this dataset (for datasets open to chosen annotators); repeatable.",
        )
        parser.add_argument(
            "--output", type=Path, help="Write username,email,password to this CSV (readable by you only) instead."
        )

    def handle(self, *args, csv, username, role, test, dataset, output, **options):
        text = self._accounts_text(csv, username)
        datasets = list(Dataset.objects.filter(slug__in=dataset))
        missing = sorted(set(dataset) - {d.slug for d in datasets})
        if missing:
            raise CommandError(f"No dataset with the slug {', '.join(missing)}.")
        role = Role(role)
        try:
            created = services.users_create_from_csv(csv_text=text, role=role, is_test=test, datasets=datasets)
        except ValidationError as error:
            source = csv or "--username"
            raise CommandError(f"{source}: nothing was created.\n  " + "\n  ".join(error.messages)) from None
        if output:
            fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(accounts.accounts_csv(created))
            self.stdout.write(self.style.SUCCESS(f"Created {len(created)} {role} accounts; passwords in {output}."))
            return
        self.stdout.write(self.style.SUCCESS(f"Created {len(created)} {role} accounts. Passwords are shown once:"))
        width = max(len(a.username) for a in created) + 2
        for account in created:
            note = "" if account.generated else "  (from the file)"
            self.stdout.write(f"{account.username:<{width}}{account.password}{note}")

    def _accounts_text(self, csv: Path | None, usernames: list[str]) -> str:
        """Return the accounts as CSV text: the file's, or one line per --username."""
        if csv is not None and usernames:
            raise CommandError("Give a CSV file or --username, not both.")
        if csv is None:
            if not usernames:
                raise CommandError("Give a CSV file of accounts, or --username NAME for each account.")
            # Usernames with a comma or a quote are invalid anyway; the CSV reader names them.
            return "".join(f"{name}\n" for name in usernames)
        try:
            return csv.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as error:  # missing, unreadable, or not UTF-8: say which
            raise CommandError(f"Cannot read {csv}: {error}") from None
