import os
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from backend.api import accounts, services
from backend.api.models import Dataset


class Command(BaseCommand):
    help = (
        "Create annotator accounts from a CSV of username, email and optional password (a header row is optional). "
        "Missing passwords are generated and shown once: printed, or written to --output. All or nothing: any "
        "problem in the file is reported by line and no account is created."
    )

    def add_arguments(self, parser):
        parser.add_argument("csv", type=Path, help="The CSV file: username,email[,password] per line.")
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

    def handle(self, *args, csv, test, dataset, output, **options):
        try:
            text = csv.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as error:  # missing, unreadable, or not UTF-8: say which
            raise CommandError(f"Cannot read {csv}: {error}") from None
        datasets = list(Dataset.objects.filter(slug__in=dataset))
        missing = sorted(set(dataset) - {d.slug for d in datasets})
        if missing:
            raise CommandError(f"No dataset with the slug {', '.join(missing)}.")
        try:
            created = services.users_create_from_csv(csv_text=text, is_test=test, datasets=datasets)
        except ValidationError as error:
            raise CommandError(f"{csv}: nothing was created.\n  " + "\n  ".join(error.messages)) from None
        if output:
            fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(accounts.accounts_csv(created))
            self.stdout.write(self.style.SUCCESS(f"Created {len(created)} annotator accounts; passwords in {output}."))
            return
        self.stdout.write(self.style.SUCCESS(f"Created {len(created)} annotator accounts. Passwords are shown once:"))
        width = max(len(a.username) for a in created) + 2
        for account in created:
            note = "" if account.generated else "  (from the file)"
            self.stdout.write(f"{account.username:<{width}}{account.password}{note}")
