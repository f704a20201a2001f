"""Write a study's trials or participants table, as the research API downloads them."""

import os
import sys
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from rest_framework.renderers import JSONRenderer

from ... import exporting
from ...models import Study
from ...selectors.study_exports import (
    TRIAL_COLUMNS,
    TrialSelection,
    participant_columns,
    participant_records,
    study_participant_rows,
    study_trial_rows,
    study_trials_jsonl,
)

FORMATS = {"trials": ("csv", "jsonl"), "participants": ("csv", "json")}


class Command(BaseCommand):
    help = (
        "Write a study's trials (one row per image shown: GET /api/studies/{id}/export/) or its participants table "
        "(GET /api/studies/{id}/participants/), in the same formats and columns. The file appears at --out only "
        "once complete; --out - writes to standard output."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug", help="The study's slug.")
        parser.add_argument("table", choices=sorted(FORMATS), help="trials or participants")
        parser.add_argument(
            "--format", default="csv", help="trials: csv or jsonl (with strokes); participants: csv or json"
        )
        parser.add_argument("--out", required=True, help="File to write, or - for standard output.")
        parser.add_argument("--condition", help="trials: only those under this condition (its slug).")
        parser.add_argument(
            "--kind", choices=["main", "catch", "practice", "all"], default="main", help="trials: which."
        )
        parser.add_argument("--include-excluded", action="store_true", help="trials: also excluded participants.")
        parser.add_argument("--include-test", action="store_true", help="trials: also test participants.")

    def handle(self, *args, slug, table, out, **options):
        study = Study.objects.filter(slug=slug).first()
        if study is None:
            known = ", ".join(Study.objects.values_list("slug", flat=True)[:20]) or "none"
            raise CommandError(f"there is no study {slug!r}; the studies are: {known}.")
        fmt = options["format"]
        if fmt not in FORMATS[table]:
            raise CommandError(f"--format: the {table} table is written as {' or '.join(FORMATS[table])}; got {fmt!r}")
        if table == "participants":
            if fmt == "json":
                pieces = [JSONRenderer().render(list(participant_records(study)))]  # as the API renders it
            else:
                pieces = exporting.csv_table(participant_columns(study), study_participant_rows(study=study))
        else:
            selection = TrialSelection(
                condition=options["condition"],
                kind=options["kind"],
                include_excluded=options["include_excluded"],
                include_test=options["include_test"],
            )
            if fmt == "jsonl":
                pieces = study_trials_jsonl(study=study, selection=selection)
            else:
                pieces = exporting.csv_table(TRIAL_COLUMNS, study_trial_rows(study=study, selection=selection))
        self._write(pieces, out)

    def _write(self, pieces, out: str) -> None:
        if out == "-":
            for chunk in exporting.buffered(pieces):
                sys.stdout.buffer.write(chunk)
            return
        target = Path(out)
        if not target.parent.is_dir():
            raise CommandError(f"--out: the folder {target.parent} does not exist")
        # Written beside the target and renamed once complete: a half-written table is never left at --out.
        handle, partial = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        try:
            with os.fdopen(handle, "wb") as file:
                for chunk in exporting.buffered(pieces):
                    file.write(chunk)
            os.replace(partial, target)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
        self.stderr.write(f"Wrote {target}.")
