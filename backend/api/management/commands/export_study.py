"""Write a study as a study file (YAML or JSON), to keep under version control or run again elsewhere."""

from django.core.management.base import BaseCommand, CommandError

from ... import studyfile
from ...models import Study
from ...selectors.studies import study_file


class Command(BaseCommand):
    help = "Write the study with this slug as a study file on standard output (import_study reads it back)."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="The study's slug.")
        parser.add_argument("--format", choices=["yaml", "json"], default="yaml")

    def handle(self, *args, slug, **options):
        study = Study.objects.filter(slug=slug).first()
        if study is None:
            known = ", ".join(Study.objects.values_list("slug", flat=True)[:20]) or "none"
            raise CommandError(f"there is no study {slug!r}; the studies are: {known}.")
        self.stdout.write(studyfile.write_study(study_file(study), fmt=options["format"]), ending="")
