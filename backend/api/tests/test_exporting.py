"""Export formats as pure functions over rows: valid files, exact fields, bounded pieces."""

import csv
import io
import json
import zipfile
from datetime import UTC, datetime

import numpy as np
import pytest
from pycocotools.coco import COCO

from backend.api import exporting, masks

W, H = 12, 10


def image_row(pk=1, path="images/eye.png", metadata=None):
    return {
        "id": pk,
        "path": path,
        "sha256": "ab" * 32,
        "width": W,
        "height": H,
        "ground_truth": "real",
        "metadata": metadata if metadata is not None else {"sensor": "LG4000"},
    }


def annotation_row(pk=7, image=None, label="real", box=(0, 0, 3, 2), annotator="alice"):
    mask = np.zeros((H, W), dtype=bool)
    x0, y0, x1, y1 = box
    mask[y0:y1, x0:x1] = True
    return {
        "id": pk,
        "image": image or image_row(),
        "annotator_id": 3,
        "annotator": annotator,
        "is_test": False,
        "label": label,
        "text": 'says "hi",\nthen leaves',
        "status": "submitted",
        "version": 2,
        "started_at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        "submitted_at": datetime(2026, 1, 2, 3, 5, 0, tzinfo=UTC),
        "active_ms": 4200,
        "client": {"user_agent": "Firefox"},
        "stroke_count": 1,
        "mask_area": int(mask.sum()),
        "mask_rle": masks.rle_encode(mask),
        "strokes_json": '[{"tool": "brush", "width": 4.0, "points": [[1.5, 2.0, 0.0, 0.5]]}]',
    }


def coco_document(rows, images=None, mode="choice", choices=("real", "fake")):
    pieces = exporting.coco_pieces(
        info={"description": "test"},
        images=images or [image_row()],
        annotations=rows,
        categories=exporting.CocoCategories(mode, list(choices)),
    )
    return "".join(pieces)


def test_the_coco_document_is_json_that_pycocotools_loads(tmp_path):
    path = tmp_path / "coco.json"
    path.write_text(coco_document([annotation_row(), annotation_row(pk=8, box=(2, 2, 5, 5), label="fake")]))
    coco = COCO(str(path))
    first = coco.loadAnns([7])[0]
    assert coco.annToMask(first).sum() == 6
    assert first["bbox"] == [0.0, 0.0, 3.0, 2.0]
    assert coco.loadAnns([8])[0]["bbox"] == [2.0, 2.0, 3.0, 3.0]
    assert coco.loadImgs([1])[0]["file_name"] == "eye.png"


def test_coco_bounding_boxes_are_right_across_batches():
    rows = [annotation_row(pk=k, box=(k % 5, 0, k % 5 + 1, 1)) for k in range(1, 1200)]
    document = json.loads(coco_document(rows))
    assert [a["bbox"][0] for a in document["annotations"]] == [float(k % 5) for k in range(1, 1200)]


def test_an_empty_mask_has_a_zero_bounding_box():
    (annotation,) = json.loads(coco_document([annotation_row(box=(0, 0, 0, 0))]))["annotations"]
    assert (annotation["area"], annotation["bbox"]) == (0, [0.0, 0.0, 0.0, 0.0])


def test_an_answer_no_longer_among_the_choices_gets_its_own_category():
    document = json.loads(coco_document([annotation_row(label="maybe")]))
    assert [c["name"] for c in document["categories"]] == ["real", "fake", "maybe"]
    assert document["annotations"][0]["category_id"] == 3


def test_an_unknown_category_mode_is_refused():
    with pytest.raises(ValueError, match="categories must be one of"):
        exporting.CocoCategories("shapes", [])


def test_csv_quotes_commas_quotes_and_line_breaks():
    text = "".join(exporting.csv_pieces([annotation_row()], ["sensor"]))
    (row,) = list(csv.DictReader(io.StringIO(text)))
    assert row["text"] == 'says "hi",\nthen leaves'
    assert row["sensor"] == "LG4000"
    assert row["started_at"] == "2026-01-02T03:04:05+00:00"


@pytest.mark.parametrize(
    "typed, shown",
    [
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("-3.5", "-3.5"),  # a number stays a number
        ("+1e3", "+1e3"),
        ("a = b", "a = b"),  # only a leading sign starts a formula
    ],
)
def test_csv_cells_never_start_a_spreadsheet_formula(typed, shown):
    row = annotation_row()
    row["text"] = typed
    row["image"] = image_row(metadata={"sensor": typed})
    (parsed,) = list(csv.DictReader(io.StringIO("".join(exporting.csv_pieces([row], ["sensor"])))))
    assert (parsed["text"], parsed["sensor"]) == (shown, shown)


def test_metadata_named_like_a_fixed_column_is_prefixed():
    columns = exporting.csv_columns(["sensor", "label", "status"])
    assert columns[-3:] == ["sensor", "metadata_label", "metadata_status"]
    row = annotation_row(image=image_row(metadata={"label": "from csv", "status": "ok"}))
    text = "".join(exporting.csv_pieces([row], ["label", "status"]))
    (parsed,) = list(csv.DictReader(io.StringIO(text)))
    assert (parsed["label"], parsed["metadata_label"], parsed["metadata_status"]) == ("real", "from csv", "ok")


def test_csv_with_masks_adds_each_masks_size_and_exact_rle_before_the_metadata():
    row = annotation_row(image=image_row(metadata={"sensor": "LG4000", "width": "wide"}))
    row["mask_rle"] = "=0" + row["mask_rle"]  # an RLE may start with '=' or '@': never escaped
    text = "".join(exporting.csv_pieces([row], ["sensor", "width"], with_masks=True))
    header, cells = list(csv.reader(io.StringIO(text)))
    assert header[-5:] == ["width", "height", "mask_rle", "sensor", "metadata_width"]
    assert cells[-5:] == [str(W), str(H), row["mask_rle"], "LG4000", "wide"]
    assert header[: len(exporting.CSV_COLUMNS)] == list(exporting.CSV_COLUMNS)


def test_missing_values_are_empty_cells_and_booleans_are_words():
    row = annotation_row(label=None)
    row["submitted_at"] = None
    (parsed,) = list(csv.DictReader(io.StringIO("".join(exporting.csv_pieces([row], ["absent"])))))
    assert (parsed["label"], parsed["correct"], parsed["submitted_at"], parsed["absent"]) == ("", "", "", "")
    assert parsed["is_test"] == "false"


def test_a_jsonl_line_splices_the_strokes_unchanged():
    (line,) = list(exporting.jsonl_pieces([annotation_row()]))
    assert line.endswith("}\n") and line.count("\n") == 1
    document = json.loads(line)
    assert document["strokes"] == [{"tool": "brush", "width": 4.0, "points": [[1.5, 2.0, 0.0, 0.5]]}]
    assert document["text"] == 'says "hi",\nthen leaves'
    assert document["client"] == {"user_agent": "Firefox"}


@pytest.mark.parametrize(
    "label, truth, expected",
    [("real", "real", True), ("fake", "real", False), (None, "real", None), ("real", "", None)],
)
def test_is_correct_needs_both_an_answer_and_a_ground_truth(label, truth, expected):
    assert exporting.is_correct(label, truth) is expected


def test_mask_names_drop_the_extension_unless_two_images_share_the_name():
    name = exporting.mask_names(["images/a.png", "images/b.png", "images/b.jpg", "images/sub/c.tif"])
    assert [name(p) for p in ("images/a.png", "images/b.png", "images/b.jpg", "images/sub/c.tif")] == [
        "a",
        "b.png",
        "b.jpg",
        "sub/c",
    ]


def test_buffered_joins_small_pieces_into_bounded_chunks():
    chunks = list(exporting.buffered(["x" * 100] * 1000, size=4096))
    assert b"".join(chunks) == b"x" * 100_000
    assert all(4096 <= len(c) < 4096 + 100 for c in chunks[:-1])


def test_the_masks_archive_writes_each_images_heat_map_after_its_masks():
    rows = [
        annotation_row(pk=1, box=(0, 0, 4, 4), annotator="alice"),
        annotation_row(pk=2, box=(2, 0, 6, 4), annotator="bob"),
        annotation_row(pk=3, image=image_row(pk=2, path="images/other.png"), annotator="alice"),
    ]
    data = b"".join(
        exporting.masks_archive_pieces(
            info={"x": 1},
            annotations=rows,
            name_of=exporting.mask_names(["images/eye.png", "images/other.png"]),
            metadata_keys=["sensor"],
            sigma=0.0,
            date_time=(2026, 1, 1, 0, 0, 0),
        )
    )
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.namelist() == [
        "info.json",
        "masks/eye__alice.png",
        "masks/eye__bob.png",
        "saliency/eye.png",
        "masks/other__alice.png",
        "saliency/other.png",
        "annotations.csv",
    ]
    rows = list(csv.DictReader(io.StringIO(archive.read("annotations.csv").decode())))
    assert [(r["annotation_id"], r["annotator"]) for r in rows] == [("1", "alice"), ("2", "bob"), ("3", "alice")]


def test_the_coco_document_starts_before_any_annotation_is_read():
    def unread():
        raise AssertionError("annotations were read before the first bytes left")
        yield

    pieces = exporting.coco_pieces(
        info={}, images=[image_row()], annotations=unread(), categories=exporting.CocoCategories("salient", [])
    )
    assert next(pieces).startswith('{"info":{},"licenses":[],"images":[')
