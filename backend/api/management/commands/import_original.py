from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from backend.api import importing, services
from backend.api.original import rows
from backend.api.original.database import OriginalDatabase
from backend.api.original.dump import DumpInvalid, PgDump


def user_map(entries: list[str]) -> dict[str, str]:
    """Return {old: new} from OLD=NEW entries (each may hold several, comma-separated)."""
    mapping = {}
    for entry in entries:
        for pair in filter(None, (p.strip() for p in entry.split(","))):
            old, equals, new = pair.partition("=")
            if not equals or not old.strip() or not new.strip():
                raise CommandError(f"--map-user takes OLD=NEW (e.g. alice=alice_original); got {pair!r}.")
            mapping[old.strip()] = new.strip()
    return mapping


class Command(BaseCommand):
    help = (
        "Bring a deployment of the original EyeTagger over: its users (with their passwords), its images (from "
        "its data/dataset folder) and every annotation, masks exactly as it stored them. Reads its pg_dump backup "
        "(plain SQL, gzipped or not) or its live database (read-only). One transaction: on any error nothing is "
        "stored. Running it again changes nothing. --dry-run prints the full report and writes nothing."
    )

    def add_arguments(self, parser):
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument(
            "--dump", type=Path, help="The original's backup, as its README and backups.sh write it (.sql or .sql.gz)."
        )
        source.add_argument(
            "--database-url",
            help="Read the original's database instead, read-only: postgres://eyetagger_admin:PASSWORD@HOST:5432/eyetagger",
        )
        parser.add_argument(
            "--dataset-dir",
            type=Path,
            required=True,
            help="The original's data/dataset folder (images/ and metadata.csv), inside DATASET_ROOT: link it there, "
            "e.g. ln -s /srv/eyetagger/data/dataset data/original.",
        )
        parser.add_argument("--name", help="The dataset's name (default: the folder's name).")
        parser.add_argument(
            "--question", help='Asked about every image (default, with buttons: "Is this image real or fake?").'
        )
        parser.add_argument(
            "--choices", help="What the original's Real and Fake buttons become, in that order (default: real,fake)."
        )
        parser.add_argument(
            "--map-user",
            action="append",
            default=[],
            metavar="OLD=NEW",
            help="Give the original user OLD the account NEW here: an existing account takes their work (the same "
            "person), a new name is created. Repeat it, or separate pairs by commas. Needed for usernames taken here.",
        )
        parser.add_argument(
            "--skip-annotation",
            action="append",
            type=int,
            default=[],
            metavar="ID",
            help="Leave out the original's api_annotation row ID (one that cannot be read); repeat for more.",
        )
        parser.add_argument(
            "--tokens",
            action="store_true",
            help="Keep the users' API tokens, so scripts signed in to the original keep working.",
        )
        parser.add_argument("--dry-run", action="store_true", help="Do it all and report it, then roll it back.")

    def handle(self, *args, **options):
        choices = [c.strip() for c in options["choices"].split(",")] if options["choices"] else None
        try:
            if options["dump"]:
                self.stderr.write(f"Reading {options['dump']} (a first pass checks it whole)…")
                source = PgDump(options["dump"], keep=rows.SMALL_TABLES).scan()
            else:
                source = OriginalDatabase(options["database_url"])
            try:
                report = services.original_import(
                    source=source,
                    dataset_dir=options["dataset_dir"],
                    name=options["name"],
                    question=options["question"],
                    choices=choices,
                    user_map=user_map(options["map_user"]),
                    skip_annotations=options["skip_annotation"],
                    tokens=options["tokens"],
                    dry_run=options["dry_run"],
                    # The raw stream: OutputWrapper would add a newline to every \r update of the bar.
                    progress=lambda items, total: tqdm(
                        items, total=total, desc="Annotations", unit="row", file=self.stderr._out
                    ),
                )
            finally:
                if isinstance(source, OriginalDatabase):
                    source.close()
        except (DumpInvalid, rows.OriginalInvalid, importing.DatasetFolderInvalid) as error:
            raise CommandError(str(error)) from None
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        self.print_report(report)

    def print_report(self, report) -> None:
        dataset = report.dataset
        verb = (
            ("Would create" if report.created else "Would update")
            if report.dry_run
            else ("Created" if report.created else "Updated")
        )
        self.stdout.write(
            self.style.SUCCESS(f"{verb} dataset {dataset.name!r} (slug {dataset.slug}) from the {report.source}.")
        )
        self.stdout.write(f"The original's schema: {report.era}.")
        for line in report.summary():
            self.stdout.write(line)
        for title, items in report.sections():
            if items:
                self.stdout.write(f"{len(items):6d} {title}")
                for item in items:
                    self.stdout.write(f"         {item}")
        if report.dry_run:
            self.stdout.write(self.style.WARNING("Dry run: nothing was written."))
