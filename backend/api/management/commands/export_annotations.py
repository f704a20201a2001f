import os
import sys
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q
from tqdm import tqdm

from backend.api import exporting, selectors
from backend.api.models import Dataset
from backend.api.query_params import STATUSES, ExportQuerySerializer


def _dataset(reference: str) -> Dataset:
    """Return the dataset with this id or slug."""
    match = Q(slug=reference) | Q(pk=int(reference)) if reference.isdigit() else Q(slug=reference)
    dataset = Dataset.objects.filter(match).order_by("pk").first()
    if dataset is None:
        known = ", ".join(f"{d.pk} ({d.slug})" for d in Dataset.objects.order_by("pk")[:20]) or "none"
        raise CommandError(f"No dataset with id or slug {reference!r}. Datasets: {known}.")
    return dataset


class Command(BaseCommand):
    help = (
        "Export a dataset's annotations as COCO JSON, CSV, JSON Lines or a zip of PNG masks, exactly as "
        "GET /api/datasets/{id}/export/ does. By default only submitted work by non-test users. The file "
        "appears at --out only once complete; --out - writes to standard output."
    )

    def add_arguments(self, parser):
        parser.add_argument("dataset", help="The dataset's id or slug.")
        parser.add_argument("--format", required=True, choices=exporting.FORMATS)
        parser.add_argument("--out", required=True, help="File to write, or - for standard output.")
        parser.add_argument("--annotators", help="Only these annotators: user ids or usernames, comma-separated.")
        parser.add_argument("--status", choices=STATUSES, default="submitted")
        parser.add_argument("--include-test", action="store_true", help="Include test users' work.")
        parser.add_argument("--label", help="Only annotations with this answer.")
        parser.add_argument("--correct", choices=["true", "false"], help="Only right (true) or wrong (false) answers.")
        parser.add_argument("--since", help="Only work submitted (drafts: saved) on or after this date or date-time.")
        parser.add_argument("--until", help="Only work submitted (drafts: saved) on or before this date or date-time.")
        parser.add_argument("--categories", choices=exporting.CATEGORY_MODES, help="COCO: one per choice, or salient.")
        parser.add_argument("--sigma", help="masks: Gaussian smoothing of the heat maps, in pixels (default 0).")
        parser.add_argument("--no-progress", action="store_true", help="Do not show the progress bar.")

    def handle(self, *args, dataset, out, **options):
        dataset = _dataset(dataset)
        params = {
            "format": options["format"],
            "annotator": options["annotators"],
            "status": options["status"],
            "include_test": "true" if options["include_test"] else "false",
            "label": options["label"],
            "correct": options["correct"],
            "since": options["since"],
            "until": options["until"],
            "categories": options["categories"],
            "sigma": options["sigma"],
        }
        query = ExportQuerySerializer(
            data={k: v for k, v in params.items() if v is not None}, context={"choices": dataset.choices}
        )
        if not query.is_valid():
            problems = [
                f"--{field.replace('_', '-')}: {' '.join(map(str, errors))}" for field, errors in query.errors.items()
            ]
            raise CommandError("; ".join(problems).replace("--annotator:", "--annotators:"))
        bar = None

        def progress(rows):
            nonlocal bar
            # The raw stream: OutputWrapper would add a newline to every \r update of the bar.
            bar = tqdm(
                rows,
                total=export.count,
                desc=f"Exporting {dataset.slug}",
                unit="ann",
                file=self.stderr._out,
                disable=options["no_progress"],
            )
            return bar

        data = query.validated_data
        export = selectors.dataset_export(
            dataset=dataset,
            selection=query.selection(),
            format=data["format"],
            categories=data.get("categories"),
            sigma=data["sigma"],
            progress=progress,
        )
        written = self._write(export.pieces, out)
        if bar is not None:
            bar.close()
        where = "standard output" if out == "-" else out
        self.stderr.write(
            f"Exported {export.count} annotations of {dataset.name!r} as {data['format']} to {where} "
            f"({written:,} bytes)."
        )

    def _write(self, pieces, out: str) -> int:
        """Write the pieces to out (or stdout); a file appears only once complete, never half-written."""
        written = 0
        if out == "-":
            for piece in pieces:
                sys.stdout.buffer.write(piece)
                written += len(piece)
            sys.stdout.buffer.flush()
            return written
        target = Path(out)
        if target.is_dir():
            raise CommandError(f"--out {out} is a folder; name a file.")
        if not target.parent.is_dir():
            raise CommandError(f"--out {out}: the folder {target.parent} does not exist.")
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as file:
                for piece in pieces:
                    file.write(piece)
                    written += len(piece)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return written
