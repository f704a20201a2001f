"""What a phase's subset and its balance per condition cost a participant's hand-out of images.

In-process, on a scratch PostgreSQL database (``test_<name>`` on the server of ``--database-url``,
made and dropped here): three studies of four conditions between subjects, each with one
annotation phase of ``--per-participant`` images on a dataset of its own of ``--images`` images
(rows only, no files; metadata column ``group`` a or b), drawn

- ``whole``: from the whole dataset, as the queue walks it (as before subsets existed);
- ``subset``: from the images of group a only (``subset: {column: group, values: [a]}``);
- ``per-condition``: the same subset, with ``per_condition: 2`` (balanced under each condition).

``--participants`` enrol in each, taking turns between the studies (so load falls on all three
alike), and each is timed on their first ``trial_hand_out`` (the phase's images handed out at
once, ``ahead`` the rest). Prints a JSON report: median and p95 in ms per way, and each way's
median over ``whole``'s, measured in one run.

    .venv/bin/python bench/study_phases.py [--images 4000] [--participants 60]
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.helpers import describe, load_average, log, machine, percentile  # noqa: E402

WAYS = ("whole", "subset", "per-condition")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--images", type=int, default=4000)
    parser.add_argument("--participants", type=int, default=60, help="Participants per way.")
    parser.add_argument("--per-participant", type=int, default=5, help="Images of the phase per participant.")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/eyetagger"),
        help="The PostgreSQL server (test_<name> is made there and dropped).",
    )
    args = parser.parse_args()
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
    os.environ["EYETAGGER_ENV_FILES"] = ""
    import django

    django.setup()
    from django.db import connection

    old_name = connection.settings_dict["NAME"]
    log(f"making the scratch database test_{old_name}")
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        report = _run(args)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        log("dropped the scratch database")
    report["machine"] = describe(machine(database_url=args.database_url.rsplit("/", 1)[0] + "/postgres"))
    print(json.dumps(report, indent=2))
    return 0


def _study_text(way: str, dataset: str, per_participant: int) -> str:
    from backend.api import studyfile

    phase = {"type": "annotation", "dataset": dataset, "images": per_participant}
    if way != "whole":
        phase["subset"] = {"column": "group", "values": ["a"]}
    if way == "per-condition":
        phase["per_condition"] = 2
    slugs = ["none", "label", "map", "both"]
    spec = {
        "slug": f"bench-{way}",
        "title": way,
        "status": "open",
        "platform": {"name": "prolific", "require_participant": True},
        "conditions": [{"slug": slug} for slug in slugs],
        "assignment": {"between": slugs},
        "steps": [phase, {"type": "finish", "text": "Thanks"}],
    }
    return studyfile.write_study(studyfile.canonical(spec))


def _dataset(way: str, images: int):
    from backend.api.models import Dataset, Image, shuffle_key

    dataset = Dataset.objects.create(
        name=f"Bench {way}", slug=f"bench-{way}", root=f"bench-{way}", annotators_per_image=8
    )
    Image.objects.bulk_create(
        (
            Image(
                dataset=dataset,
                sha256=f"{WAYS.index(way):032x}{i:032x}",
                path=f"images/{i:05d}.png",
                position=i,
                width=64,
                height=48,
                metadata={"group": "a" if i % 2 == 0 else "b"},
                shuffle_key=shuffle_key(dataset.seed, f"{WAYS.index(way):032x}{i:032x}"),
            )
            for i in range(images)
        ),
        batch_size=1000,
    )
    Dataset.objects.filter(pk=dataset.pk).update(image_count=images)
    return dataset


def _run(args) -> dict:
    from backend.api import services

    for way in WAYS:
        _dataset(way, args.images)
        services.study_import(text=_study_text(way, f"bench-{way}", args.per_participant))
    log(f"three studies on datasets of {args.images} images; {args.participants} participants each")
    times: dict[str, list[float]] = {way: [] for way in WAYS}
    handed: dict[str, int] = {way: 0 for way in WAYS}
    for number in range(args.participants):
        for way in WAYS:
            participant = services.participant_enrol(
                slug=f"bench-{way}", params={"PROLIFIC_PID": f"{way}-{number}"}
            ).participant
            started = time.perf_counter()
            batch = services.trial_hand_out(participant_id=participant.pk, ahead=args.per_participant - 1)
            times[way].append((time.perf_counter() - started) * 1000)
            handed[way] += len(batch.trials)
    whole = statistics.median(times["whole"])
    return {
        "images": args.images,
        "participants_per_way": args.participants,
        "images_per_participant": args.per_participant,
        "load_after": load_average(),
        "hand_out_ms": {
            way: {
                "median": round(statistics.median(values), 1),
                "p95": round(percentile(values, 95), 1),
                "ratio_to_whole": round(statistics.median(values) / whole, 2),
                "images_handed": handed[way],
            }
            for way, values in times.items()
        },
    }


if __name__ == "__main__":
    sys.exit(main())
