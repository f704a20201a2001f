"""Dataset exports: every format read back by a real consumer, the filters, streaming, permissions, the command."""

import csv
import io
import json
import zipfile

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.http import StreamingHttpResponse
from PIL import Image as PILImage
from pycocotools.coco import COCO

from backend.api.models import Annotation, Dataset, Role

from .research_fixtures import annotate, rect, rect_mask, study_fixture  # noqa: F401 (the study fixture)


def export(client, dataset, **params):
    return client.get(f"/api/datasets/{dataset.pk}/export/", params)


def body(response) -> bytes:
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content)


def png_mask(data: bytes) -> np.ndarray:
    return np.asarray(PILImage.open(io.BytesIO(data)).convert("L")) > 0


# --- COCO ---------------------------------------------------------------------------


def test_coco_export_loads_in_pycocotools_and_its_masks_equal_the_png_masks(study, researcher, client_for, tmp_path):
    client = client_for(researcher)
    path = tmp_path / "coco.json"
    path.write_bytes(body(export(client, study["dataset"], format="coco")))
    coco = COCO(str(path))
    assert len(coco.getImgIds()) == 3  # every image of the dataset, annotated or not
    assert len(coco.getAnnIds()) == 4  # submitted, by non-test users
    for annotation in coco.loadAnns(coco.getAnnIds()):
        served = png_mask(client.get(f"/api/annotations/{annotation['id']}/mask.png").content)
        decoded = coco.annToMask(annotation).astype(bool)
        assert decoded.shape == (48, 64)
        assert (decoded == served).all()
        assert annotation["area"] == decoded.sum()


def test_coco_masks_are_the_hand_drawn_rectangles(study, researcher, client_for, tmp_path):
    path = tmp_path / "coco.json"
    path.write_bytes(body(export(client_for(researcher), study["dataset"], format="coco")))
    coco = COCO(str(path))
    alice_a = coco.loadAnns([study["annotations"][("a", "alice")].pk])[0]
    assert (coco.annToMask(alice_a).astype(bool) == rect_mask(0, 0, 10, 10)).all()
    assert alice_a["bbox"] == [0.0, 0.0, 10.0, 10.0]
    assert (alice_a["annotator"], alice_a["label"], alice_a["text"], alice_a["active_ms"]) == (
        "alice",
        "real",
        "rim",
        1000,
    )


def test_coco_images_carry_hash_ground_truth_and_metadata(study, researcher, client_for):
    document = json.loads(body(export(client_for(researcher), study["dataset"], format="coco")))
    image = next(i for i in document["images"] if i["file_name"] == "a.png")
    a = study["images"]["a.png"]
    assert image == {
        "id": a.pk,
        "file_name": "a.png",
        "width": 64,
        "height": 48,
        "sha256": a.sha256,
        "ground_truth": "real",
        "metadata": {"sensor": "LG0"},
    }
    assert document["info"]["selection"]["status"] == "submitted"


def test_coco_has_one_category_per_choice_by_default(study, researcher, client_for):
    document = json.loads(body(export(client_for(researcher), study["dataset"], format="coco")))
    names = {c["id"]: c["name"] for c in document["categories"]}
    assert names == {1: "real", 2: "fake"}
    by_label = {a["label"]: names[a["category_id"]] for a in document["annotations"]}
    assert by_label == {"real": "real", "fake": "fake"}


def test_coco_can_use_a_single_salient_category(study, researcher, client_for):
    document = json.loads(body(export(client_for(researcher), study["dataset"], format="coco", categories="salient")))
    assert document["categories"] == [{"id": 1, "name": "salient", "supercategory": "saliency"}]
    assert {a["category_id"] for a in document["annotations"]} == {1}


def test_coco_adds_an_unlabelled_category_only_when_an_answer_is_missing(study, researcher, client_for):
    annotate(study["images"]["c.png"], study["users"]["alice"], [rect(0, 0, 4, 4)], status="draft")
    client = client_for(researcher)
    submitted = json.loads(body(export(client, study["dataset"], format="coco")))
    assert [c["name"] for c in submitted["categories"]] == ["real", "fake"]
    everything = json.loads(body(export(client, study["dataset"], format="coco", status="all")))
    assert [c["name"] for c in everything["categories"]] == ["real", "fake", "unlabelled"]


# --- CSV and JSON Lines ----------------------------------------------------------------


def test_csv_has_one_row_per_annotation_with_the_listed_columns_and_the_metadata(study, researcher, client_for):
    rows = list(
        csv.DictReader(io.StringIO(body(export(client_for(researcher), study["dataset"], format="csv")).decode()))
    )
    assert len(rows) == 4
    alice_a = next(r for r in rows if r["annotator"] == "alice" and r["file_name"] == "a.png")
    annotation = study["annotations"][("a", "alice")]
    assert alice_a == {
        "annotation_id": str(annotation.pk),
        "image_id": str(annotation.image_id),
        "file_name": "a.png",
        "sha256": annotation.image.sha256,
        "ground_truth": "real",
        "annotator": "alice",
        "annotator_id": str(annotation.annotator_id),
        "is_test": "false",
        "label": "real",
        "correct": "true",
        "text": "rim",
        "status": "submitted",
        "version": "1",
        "started_at": annotation.started_at.isoformat(),
        "submitted_at": annotation.submitted_at.isoformat(),
        "active_ms": "1000",
        "stroke_count": "1",
        "mask_area": "100",
        "sensor": "LG0",
    }


def test_csv_rows_come_grouped_by_image_then_annotator(study, researcher, client_for):
    rows = list(
        csv.DictReader(io.StringIO(body(export(client_for(researcher), study["dataset"], format="csv")).decode()))
    )
    assert [(r["file_name"], r["annotator"]) for r in rows] == [
        ("a.png", "alice"),
        ("a.png", "bob"),
        ("b.png", "alice"),
        ("b.png", "bob"),
    ]


def test_jsonl_has_the_full_strokes_document_and_timings(study, researcher, client_for):
    lines = body(export(client_for(researcher), study["dataset"], format="jsonl")).decode().splitlines()
    documents = [json.loads(line) for line in lines]
    assert len(documents) == 4
    first = documents[0]
    annotation = study["annotations"][("a", "alice")]
    assert first["id"] == annotation.pk
    assert first["strokes"] == annotation.strokes == [rect(0, 0, 10, 10)]
    assert first["image"]["file_name"] == "a.png" and first["image"]["sha256"] == annotation.image.sha256
    assert first["annotator"] == {"id": annotation.annotator_id, "username": "alice", "is_test": False}
    assert (first["label"], first["status"], first["active_ms"]) == ("real", "submitted", 1000)
    assert first["started_at"] == annotation.started_at.isoformat()
    assert first["submitted_at"] == annotation.submitted_at.isoformat()


# --- The masks zip ------------------------------------------------------------------------


def test_masks_zip_holds_a_png_per_annotation_the_heat_maps_and_the_csv(study, researcher, client_for):
    archive = zipfile.ZipFile(io.BytesIO(body(export(client_for(researcher), study["dataset"], format="masks"))))
    assert archive.testzip() is None
    assert sorted(archive.namelist()) == [
        "annotations.csv",
        "info.json",
        "masks/a__alice.png",
        "masks/a__bob.png",
        "masks/b__alice.png",
        "masks/b__bob.png",
        "saliency/a.png",
        "saliency/b.png",
    ]
    assert (png_mask(archive.read("masks/a__bob.png")) == rect_mask(5, 0, 15, 10)).all()
    heat = np.asarray(PILImage.open(io.BytesIO(archive.read("saliency/a.png"))))
    expected = np.zeros((48, 64), dtype=np.uint8)
    expected[0:10, 0:15] = 128  # one of two annotators: round(255 / 2)
    expected[0:10, 5:10] = 255  # both
    assert (heat == expected).all()
    rows = list(csv.DictReader(io.StringIO(archive.read("annotations.csv").decode())))
    assert len(rows) == 4


def test_masks_zip_names_images_that_differ_only_by_extension_in_full(dataset_root, researcher, make_user, client_for):
    from backend.api import services

    from .conftest import write_dataset

    folder = write_dataset(dataset_root / "twins", names=("eye.png", "eye.jpg"), size=(64, 48))
    dataset = services.dataset_import(folder=folder, choices=["real", "fake"]).dataset
    alice = make_user(Role.ANNOTATOR, username="alice")
    for image in dataset.images.all():
        annotate(image, alice, [rect(0, 0, 4, 4)], label="real")
    archive = zipfile.ZipFile(io.BytesIO(body(export(client_for(researcher), dataset, format="masks"))))
    assert {n for n in archive.namelist() if n.startswith("masks/")} == {
        "masks/eye.png__alice.png",
        "masks/eye.jpg__alice.png",
    }


# --- Filters -------------------------------------------------------------------------------


def exported_pairs(client, dataset, **params):
    lines = body(export(client, dataset, format="jsonl", **params)).decode().splitlines()
    return sorted(
        (json.loads(line)["image"]["file_name"][0], json.loads(line)["annotator"]["username"]) for line in lines
    )


def test_by_default_only_submitted_work_of_non_test_users_is_exported(study, researcher, client_for):
    assert exported_pairs(client_for(researcher), study["dataset"]) == [
        ("a", "alice"),
        ("a", "bob"),
        ("b", "alice"),
        ("b", "bob"),
    ]


FILTERS = [
    (
        "test users in",
        {"include_test": "true"},
        [("a", "alice"), ("a", "bob"), ("a", "tess"), ("b", "alice"), ("b", "bob")],
    ),
    ("drafts only", {"status": "draft"}, [("a", "dave")]),
    ("any status", {"status": "all"}, [("a", "alice"), ("a", "bob"), ("a", "dave"), ("b", "alice"), ("b", "bob")]),
    ("one annotator by name", {"annotator": "bob"}, [("a", "bob"), ("b", "bob")]),
    ("one answer", {"label": "fake"}, [("a", "bob"), ("b", "bob")]),
    ("right answers", {"correct": "true"}, [("a", "alice"), ("b", "bob")]),
    ("wrong answers", {"correct": "false"}, [("a", "bob"), ("b", "alice")]),
    ("until before everything", {"until": "2000-01-01"}, []),
    ("since long ago", {"since": "2000-01-01"}, [("a", "alice"), ("a", "bob"), ("b", "alice"), ("b", "bob")]),
]


@pytest.mark.parametrize("case, params, expected", FILTERS, ids=[f[0] for f in FILTERS])
def test_export_filters_pick_the_right_annotations(case, params, expected, study, researcher, client_for):
    assert exported_pairs(client_for(researcher), study["dataset"], **params) == expected


def test_annotators_can_be_named_by_id_repeated_or_comma_separated(study, researcher, client_for):
    users = study["users"]
    client = client_for(researcher)
    url = f"/api/datasets/{study['dataset'].pk}/export/?format=csv&annotator={users['alice'].pk}&annotator=bob"
    assert len(list(csv.DictReader(io.StringIO(body(client.get(url)).decode())))) == 4
    one = exported_pairs(client, study["dataset"], annotator=f"{users['alice'].pk}")
    assert one == [("a", "alice"), ("b", "alice")]


def test_the_date_range_uses_the_submission_time(study, researcher, client_for):
    from datetime import timedelta

    late = study["annotations"][("b", "bob")]
    Annotation.objects.filter(pk=late.pk).update(submitted_at=late.submitted_at + timedelta(days=30))
    day = (late.submitted_at + timedelta(days=30)).date().isoformat()
    assert exported_pairs(client_for(researcher), study["dataset"], since=day) == [("b", "bob")]
    assert ("b", "bob") not in exported_pairs(
        client_for(researcher), study["dataset"], until=late.submitted_at.isoformat()
    )


# --- Streaming, permissions, bad parameters ------------------------------------------------------


@pytest.mark.parametrize("format", ["coco", "csv", "jsonl", "masks"])
def test_every_format_streams_as_an_attachment_unbuffered_by_the_proxy(format, study, researcher, client_for):
    response = export(client_for(researcher), study["dataset"], format=format)
    assert isinstance(response, StreamingHttpResponse)
    assert response["X-Accel-Buffering"] == "no"
    assert response["Content-Disposition"].startswith(f'attachment; filename="{study["dataset"].slug}-{format}-')
    assert response["X-Annotation-Count"] == "4"
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
    assert body(response)


def test_annotators_cannot_export(study, client_for):
    response = export(client_for(study["users"]["alice"]), study["dataset"], format="csv")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_anonymous_clients_get_401(study, client_for):
    assert export(client_for(None), study["dataset"], format="csv").status_code == 401


def test_admins_can_export(study, admin_user, client_for):
    assert export(client_for(admin_user), study["dataset"], format="csv").status_code == 200


def test_an_unknown_dataset_is_404(researcher, client_for, db):
    assert client_for(researcher).get("/api/datasets/999999/export/?format=csv").status_code == 404


BAD_PARAMETERS = [
    ("no format", {}, "format"),
    ("unknown format", {"format": "xml"}, "format"),
    ("misspelt parameter", {"format": "csv", "anotator": "bob"}, "anotator"),
    ("unknown status", {"format": "csv", "status": "done"}, "status"),
    ("unknown annotator", {"format": "csv", "annotator": "nobody"}, "annotator"),
    ("unknown annotator id", {"format": "csv", "annotator": "999999"}, "annotator"),
    ("annotator id beyond any integer column", {"format": "csv", "annotator": "9" * 40}, "annotator"),
    ("annotator with a NUL", {"format": "csv", "annotator": "bo\x00b"}, "annotator"),
    ("label with a NUL", {"format": "csv", "label": "re\x00al"}, "label"),
    ("label not a choice", {"format": "csv", "label": "maybe"}, "label"),
    ("correct not a boolean", {"format": "csv", "correct": "perhaps"}, "correct"),
    ("since not a date", {"format": "csv", "since": "yesterday"}, "since"),
    ("range backwards", {"format": "csv", "since": "2024-02-01", "until": "2024-01-01"}, "until"),
    ("categories outside coco", {"format": "csv", "categories": "salient"}, "categories"),
    ("unknown categories", {"format": "coco", "categories": "shapes"}, "categories"),
    ("sigma outside masks", {"format": "coco", "sigma": "2"}, "sigma"),
    ("negative sigma", {"format": "masks", "sigma": "-1"}, "sigma"),
    ("sigma nan", {"format": "masks", "sigma": "nan"}, "sigma"),
    ("repeated format", {"format": ["csv", "coco"]}, "format"),
]


@pytest.mark.parametrize("case, params, field", BAD_PARAMETERS, ids=[b[0] for b in BAD_PARAMETERS])
def test_bad_parameters_get_400_naming_them(case, params, field, study, researcher, client_for):
    response = export(client_for(researcher), study["dataset"], **params)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field
    assert response.json()["detail"].startswith(field)


def test_choice_categories_are_refused_for_a_dataset_without_choices(dataset_root, researcher, client_for):
    from backend.api import services

    from .conftest import write_dataset

    dataset = services.dataset_import(folder=write_dataset(dataset_root / "plain")).dataset
    response = export(client_for(researcher), dataset, format="coco", categories="choice")
    assert response.status_code == 400 and "categories=salient" in response.json()["detail"]
    document = json.loads(body(export(client_for(researcher), dataset, format="coco")))
    assert document["categories"] == [{"id": 1, "name": "salient", "supercategory": "saliency"}]


@pytest.mark.django_db(transaction=True)
def test_an_export_outside_a_transaction_reads_one_snapshot(study, researcher, client_for):
    # Outside the test's transaction, PostgreSQL runs the export in a read-only REPEATABLE READ one.
    lines = body(export(client_for(researcher), study["dataset"], format="jsonl")).decode().splitlines()
    assert len(lines) == 4


# --- The command ---------------------------------------------------------------------------


def test_the_command_writes_the_same_file_as_the_api(study, researcher, client_for, tmp_path):
    out = tmp_path / "export.csv"
    call_command("export_annotations", study["dataset"].slug, "--format", "csv", "--out", str(out), "--no-progress")
    assert out.read_bytes() == body(export(client_for(researcher), study["dataset"], format="csv"))


def test_the_command_takes_the_dataset_by_id_and_the_filters(study, tmp_path):
    out = tmp_path / "bob.jsonl"
    call_command(
        "export_annotations",
        str(study["dataset"].pk),
        "--format=jsonl",
        f"--out={out}",
        "--annotators=bob",
        "--status=all",
        "--no-progress",
    )
    lines = out.read_text().splitlines()
    assert [json.loads(line)["annotator"]["username"] for line in lines] == ["bob", "bob"]


def test_the_command_shows_a_progress_bar_and_a_summary(study, tmp_path, capsys):
    err = io.StringIO()
    call_command(
        "export_annotations", study["dataset"].slug, "--format=coco", f"--out={tmp_path / 'c.json'}", stderr=err
    )
    assert "Exported 4 annotations" in err.getvalue()
    assert "4/4" in err.getvalue()  # tqdm's count


def test_the_command_refuses_an_unknown_dataset_naming_the_known_ones(study, tmp_path):
    with pytest.raises(CommandError, match=r"No dataset with id or slug 'nope'.*demo"):
        call_command("export_annotations", "nope", "--format=csv", f"--out={tmp_path / 'x.csv'}")


def test_the_command_refuses_bad_options_naming_them_and_writes_nothing(study, tmp_path):
    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / "x.zip"
    with pytest.raises(CommandError, match="--sigma: "):
        call_command("export_annotations", study["dataset"].slug, "--format=masks", "--sigma=inf", f"--out={out}")
    with pytest.raises(CommandError, match="--annotators: no such annotator: zed"):
        call_command("export_annotations", study["dataset"].slug, "--format=masks", "--annotators=zed", f"--out={out}")
    assert list((tmp_path / "out").iterdir()) == []


def test_the_command_leaves_no_partial_file_when_the_export_fails(study, tmp_path, monkeypatch):
    from backend.api import exporting

    def broken(*args, **kwargs):
        yield "half a line"
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(exporting, "csv_pieces", broken)
    (tmp_path / "out").mkdir()
    with pytest.raises(RuntimeError):
        call_command("export_annotations", study["dataset"].slug, "--format=csv", f"--out={tmp_path / 'out' / 'x.csv'}")
    assert list((tmp_path / "out").iterdir()) == []


def test_a_dataset_without_annotations_exports_valid_empty_files(demo_dataset, researcher, client_for, tmp_path):
    client = client_for(researcher)
    path = tmp_path / "coco.json"
    path.write_bytes(body(export(client, demo_dataset, format="coco")))
    assert COCO(str(path)).getAnnIds() == []
    assert body(export(client, demo_dataset, format="jsonl")) == b""
    header = body(export(client, demo_dataset, format="csv")).decode().splitlines()
    assert len(header) == 1 and header[0].startswith("annotation_id,")
    archive = zipfile.ZipFile(io.BytesIO(body(export(client, demo_dataset, format="masks"))))
    assert sorted(archive.namelist()) == ["annotations.csv", "info.json"]
    assert Dataset.objects.count() == 1


def test_preparing_an_export_reads_nothing_but_the_count(study, django_assert_num_queries):
    from backend.api import selectors

    with django_assert_num_queries(1):
        export = selectors.dataset_export(dataset=study["dataset"], selection=selectors.Selection(), format="masks")
    assert export.count == 4
    assert next(export.pieces).startswith(b"PK")  # a zip's local file header
    export.pieces.close()
