from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from backend.api import importing, services


def _bool(value: str) -> bool:
    if value.lower() in ("yes", "true", "1", "on"):
        return True
    if value.lower() in ("no", "false", "0", "off"):
        return False
    raise ValueError(value)


class Command(BaseCommand):
    help = (
        "Import a dataset folder (images/ and metadata.csv) below DATASET_ROOT. Idempotent: images already "
        "imported are left alone. The whole import is one transaction: on any error nothing is stored."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path, help="The dataset folder, inside DATASET_ROOT.")
        parser.add_argument("--name", help="Dataset name (default: the folder's name).")
        parser.add_argument("--slug", help="URL-safe identifier (default: from the name).")
        parser.add_argument("--description")
        parser.add_argument("--question", help='Asked about every image, e.g. "Is this image real or fake?".')
        parser.add_argument("--choices", help="Comma-separated answer choices, e.g. real,fake.")
        parser.add_argument("--require", help="Comma-separated parts required to submit: choice, mask, text.")
        parser.add_argument("--annotators-per-image", type=int, help="Distinct annotators wanted per image.")
        parser.add_argument("--images-per-annotator", type=int, help="A quota: most images handed to one annotator.")
        parser.add_argument("--order", choices=["random", "file"], help="The order images are handed out in.")
        parser.add_argument("--lease-minutes", type=int, help="How long an image handed out stays reserved.")
        parser.add_argument(
            "--access",
            choices=["all", "chosen"],
            help="Who may annotate it: every annotator, or chosen ones (none yet: e.g. a study's own dataset).",
        )

    def handle(self, *args, path, **options):
        choices = [c.strip() for c in options["choices"].split(",") if c.strip()] if options["choices"] else None
        required = {}
        if options["require"] is not None:
            parts = {p.strip() for p in options["require"].split(",") if p.strip()}
            unknown = parts - {"choice", "mask", "text"}
            if unknown:
                raise CommandError(f"--require takes choice, mask and text; got {', '.join(sorted(unknown))}.")
            required = {f"require_{part}": part in parts for part in ("choice", "mask", "text")}
        try:
            report = services.dataset_import(
                folder=path,
                name=options["name"],
                slug=options["slug"],
                description=options["description"],
                question=options["question"],
                choices=choices,
                annotators_per_image=options["annotators_per_image"],
                images_per_annotator=options["images_per_annotator"],
                order=options["order"],
                lease_minutes=options["lease_minutes"],
                access=options["access"],
                # The raw stream: OutputWrapper would add a newline to every \r update of the bar.
                progress=lambda items: tqdm(items, desc="Reading images", unit="img", file=self.stderr._out),
                **required,
            )
        except importing.DatasetFolderInvalid as error:
            raise CommandError(str(error)) from None
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        dataset = report.dataset
        self.stdout.write(
            self.style.SUCCESS(f"{report.outcome} dataset {dataset.name!r} (id {dataset.pk}, slug {dataset.slug}).")
        )
        for title, items in report.sections():
            if items or title == "added":
                self.stdout.write(f"{len(items):6d} {title}")
            if title != "added":
                for item in items:
                    self.stdout.write(f"         {item}")
