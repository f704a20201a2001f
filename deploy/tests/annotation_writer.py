"""A Django process for the backup tests, on whatever DATABASE_URL it is given.

    python deploy/tests/annotation_writer.py populate DATASET_FOLDER
        users and the dataset (the database must be migrated)
    python deploy/tests/annotation_writer.py write --log FILE [--stop-file FILE] [--max-saves N]
        save annotations through services.annotation_save, one transaction each, until told to
        stop; after each commit, append the annotation's state to FILE (JSON lines)
    python deploy/tests/annotation_writer.py state
        print the database's state as JSON: every table's row count and content digest, and
        every annotation's (version, strokes digest, mask digest, revisions)

Each save adds a stroke to one annotation; every fourth removes the first stroke, which keeps
a revision in the same transaction. So a backup that is not one consistent snapshot shows up
as a state no prefix of the writer's commits ever had.
"""

import hashlib
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from backend.api import services  # noqa: E402
from backend.api.models import Annotation, AnnotationRevision, Dataset, Image, Role  # noqa: E402

ANNOTATORS = ["writer1", "writer2", "writer3"]


def digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def stroke(n: int) -> dict:
    """Return the n-th stroke: 40 points along a line, distinct for each n."""
    return {
        "tool": "brush",
        "width": 3.0 + n % 7,
        "points": [[10.0 + i * 2.5, 10.0 + (n * 13 + i * 3) % 200, float(i * 16), 0.5] for i in range(40)],
    }


def populate(folder: str) -> None:
    for username in ANNOTATORS:
        services.user_create(username=username, password="not-used-" + username, role=Role.ANNOTATOR)
    services.dataset_import(folder=Path(folder), name="Backups", choices=["real", "fake"], require_choice=False)


def write(log_path: str, stop_file: str | None, max_saves: int) -> None:
    from django.contrib.auth.models import User

    users = list(User.objects.filter(username__in=ANNOTATORS).order_by("username"))
    images = list(Image.objects.order_by("pk"))
    with open(log_path, "a", encoding="utf-8") as log:
        for seq in range(max_saves):
            if stop_file and os.path.exists(stop_file):
                break
            image, user = images[seq % len(images)], users[(seq // len(images)) % len(users)]
            current = Annotation.objects.filter(image=image, annotator=user).first()
            strokes = list(current.strokes) if current else []
            version = current.version if current else 0
            if seq % 4 == 3 and strokes:
                strokes = strokes[1:]  # loses content: a revision is kept in the same transaction
            else:
                strokes.append(stroke(seq))
            annotation, _ = services.annotation_save(
                image=image,
                annotator=user,
                content=services.AnnotationContent(strokes=strokes, label="real", text=f"save {seq}", status="draft"),
                base_version=version,
            )
            log.write(json.dumps({"seq": seq, "id": annotation.pk, "state": annotation_state(annotation)}) + "\n")
            log.flush()
            time.sleep(0.002)  # let the backup interleave


def annotation_state(annotation: Annotation) -> list:
    return [
        annotation.version,
        digest(annotation.strokes),
        hashlib.sha256(annotation.mask_rle.encode()).hexdigest(),
        annotation.text,
        AnnotationRevision.objects.filter(annotation=annotation).count(),
    ]


def state() -> dict:
    tables = {}
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names()):
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608  (names from the database itself)
            rows = sorted(repr(row) for row in cursor.fetchall())
            tables[table] = [len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest()]
    annotations = {str(a.pk): annotation_state(a) for a in Annotation.objects.order_by("pk")}
    return {"tables": tables, "annotations": annotations, "datasets": Dataset.objects.count()}


def main(argv: list[str]) -> None:
    command = argv[0]
    if command == "populate":
        populate(argv[1])
    elif command == "write":
        options = dict(zip(argv[1::2], argv[2::2], strict=True))
        write(options["--log"], options.get("--stop-file"), int(options.get("--max-saves", "100000")))
    elif command == "state":
        print(json.dumps(state()))
    else:
        raise SystemExit(f"unknown command {command!r}; see the docstring")


if __name__ == "__main__":
    main(sys.argv[1:])
