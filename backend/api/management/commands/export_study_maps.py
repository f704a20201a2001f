"""Write a study's saliency maps and agreement per condition to a folder: the files the research API serves."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from rest_framework.renderers import JSONRenderer

from ... import saliency
from ...models import Study
from ...selectors import study_research


class Command(BaseCommand):
    help = (
        "Write a study's maps and statistics per condition into --out: <slug>-stats.json and <slug>-stats.csv "
        "(as GET /api/studies/{id}/stats/: per image and condition the masks, split-half reliability, pairwise "
        "IoU and Dice, and CC and KL between conditions, with their means), and under maps/ each image's mean "
        "map per condition and the difference of each pair, as PNG and NPY (as .../images/{image}/saliency.png "
        "and .npy, same names and bytes)."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug", help="The study's slug.")
        parser.add_argument("--out", required=True, help="The folder to write into (made if missing).")
        parser.add_argument("--sigma", type=float, default=0.0, help="Gaussian smoothing in pixels (default 0).")
        parser.add_argument(
            "--formats", default="png,npy", help="Map formats, comma-separated: png, npy (default both)."
        )
        parser.add_argument("--no-maps", action="store_true", help="Only the statistics, no map files.")

    def handle(self, *args, slug, out, sigma, **options):
        study = Study.objects.filter(slug=slug).first()
        if study is None:
            known = ", ".join(Study.objects.values_list("slug", flat=True)[:20]) or "none"
            raise CommandError(f"there is no study {slug!r}; the studies are: {known}.")
        if not 0 <= sigma <= saliency.MAX_SIGMA:
            raise CommandError(f"--sigma must be from 0 to {saliency.MAX_SIGMA}; got {sigma}")
        formats = [f.strip() for f in options["formats"].split(",") if f.strip()]
        if not formats or any(f not in study_research.MAP_FORMATS for f in formats):
            raise CommandError(f"--formats: any of {', '.join(study_research.MAP_FORMATS)}; got {options['formats']!r}")
        folder = Path(out)
        try:
            (folder / "maps").mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise CommandError(f"cannot make the folder {folder}: {error.strerror}") from None
        figures = study_research.study_condition_stats(study=study, sigma=sigma)
        (folder / f"{study.slug}-stats.json").write_bytes(JSONRenderer().render(figures))
        with open(folder / f"{study.slug}-stats.csv", "w", encoding="utf-8", newline="") as table:
            table.writelines(study_research.stats_csv(figures))
        written = 0
        if not options["no_maps"]:
            for image in study_research.study_images(study):
                for name, data in study_research.image_map_files(
                    study=study, image=image, sigma=sigma, formats=formats
                ):
                    (folder / "maps" / name).write_bytes(data)
                    written += 1
        self.stdout.write(
            f"Wrote {study.slug}-stats.json and .csv ({figures['images']} images, "
            f"{len(figures['conditions'])} conditions) and {written} map files into {folder}."
        )
