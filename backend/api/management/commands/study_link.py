"""Print a study's link for one participant: signed with the study's secret when the study signs its links."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ...models import Study
from ...selectors.studies import study_link


class Command(BaseCommand):
    help = (
        "Print the study link for these platform ids (NAME=VALUE, by the study's parameter names, e.g. "
        "PROLIFIC_PID=5f1a...), signed with the study's secret when its study file says platform.signed."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug", help="The study's slug.")
        parser.add_argument("params", nargs="*", metavar="NAME=VALUE", help="The link's platform ids.")
        parser.add_argument("--expires-in-hours", type=float, help="Refuse the link after this many hours (signed).")
        parser.add_argument("--base-url", default="", help="Put this address before the link (https://host).")

    def handle(self, *args, slug, params, **options):
        study = Study.objects.filter(slug=slug).first()
        if study is None:
            known = ", ".join(Study.objects.values_list("slug", flat=True)[:20]) or "none"
            raise CommandError(f"there is no study {slug!r}; the studies are: {known}.")
        values = {}
        for param in params:
            name, equals, value = param.partition("=")
            if not equals or not name:
                raise CommandError(f"give each parameter as NAME=VALUE; got {param!r}")
            values[name] = value
        hours = options["expires_in_hours"]
        if hours is not None and not (hours > 0 and study.platform.get("signed")):
            raise CommandError("--expires-in-hours must be above 0, and only a signed study's links expire")
        expires = timezone.now() + timedelta(hours=hours) if hours is not None else None
        try:
            link = study_link(study, params=values, expires=expires)
        except ValueError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(options["base_url"].rstrip("/") + link)
