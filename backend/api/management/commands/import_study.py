"""Import a study file (YAML or JSON): create the study it describes, or update it."""

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from ... import services


class Command(BaseCommand):
    help = (
        "Create or update a study from a study file (YAML or JSON; see docs/examples/iris-saliency-study.yaml). "
        "Its datasets must be imported first. A study someone enrolled in keeps its protocol: only its title, "
        "description, status, close date and cap may change."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path, help="The study file.")

    def handle(self, *args, path, **options):
        try:
            text = path.read_bytes()
        except OSError as error:
            raise CommandError(f"{path} cannot be read: {error.strerror}.") from None
        try:
            report = services.study_import(text=text)
        except ValidationError as error:
            raise CommandError(
                "the study file is refused, nothing was stored:\n  " + "\n  ".join(error.messages)
            ) from None
        study = report.study
        if report.created:
            self.stdout.write(
                self.style.SUCCESS(f"Created study {study.title!r} (id {study.pk}), status {study.status}.")
            )
        elif report.changed:
            self.stdout.write(self.style.SUCCESS(f"Updated study {study.slug!r}: {', '.join(report.changed)}."))
        else:
            self.stdout.write(f"Study {study.slug!r} is already as the file says; nothing changed.")
        self.stdout.write(f"Its link: /s/{study.slug}/ (add the platform's parameters, e.g. ?PROLIFIC_PID=...).")
