"""Importing a dataset folder: the pure reader, the service, the command and the data migration."""

import io
from importlib import import_module

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from PIL import Image as PILImage

from backend.api import importing, services
from backend.api.models import Dataset, Image

from .conftest import write_dataset, write_image

# --- The pure reader -----------------------------------------------------------------


@pytest.mark.parametrize(
    "csv_text, message",
    [
        ("", "is empty"),
        ("name,ground_truth\na.png,real\n", "has no 'filename' column"),
        ("filename,ground_truth\na.png,real,extra\n", "line 2 has 3 fields; the header has 2"),
        ("filename,ground_truth\na.png,real\na.png,fake\n", "line 3 repeats the filename 'a.png' of line 2"),
        ("filename,filename\na.png,b.png\n", "empty or repeated column names"),
        ('filename,ground_truth\n"a.png,real\n', "is not valid CSV"),
        ("filename,ground_truth\n,real\n", "line 2 has an empty filename"),
    ],
)
def test_a_malformed_csv_is_a_clear_error(tmp_path, csv_text, message):
    (tmp_path / "metadata.csv").write_text(csv_text)
    with pytest.raises(importing.DatasetFolderInvalid, match=message):
        importing.read_metadata(tmp_path / "metadata.csv")


def test_a_csv_that_is_not_utf8_is_a_clear_error(tmp_path):
    (tmp_path / "metadata.csv").write_bytes("filename\nœil.png\n".encode("utf-16"))
    with pytest.raises(importing.DatasetFolderInvalid, match="not UTF-8"):
        importing.read_metadata(tmp_path / "metadata.csv")


def test_metadata_keeps_every_other_column_and_tolerates_a_bom(tmp_path):
    (tmp_path / "metadata.csv").write_bytes("\ufefffilename,ground_truth,sensor\na.png,,LG\n\n".encode())
    (row,) = importing.read_metadata(tmp_path / "metadata.csv")
    assert (row.filename, row.ground_truth, row.metadata) == ("a.png", None, {"sensor": "LG"})


def test_rows_match_files_with_or_without_extension():
    rows = [importing.MetadataRow(i, name, None, {}) for i, name in enumerate(["a.png", "b", "sub/c", "d.png", "e"])]
    files = ["a.png", "b.jpg", "sub/c.png", "d.jpg", "e.png", "e.jpg", "lonely.png"]
    pairs, files_without_row, rows_without_file, ambiguous = importing.match_rows(rows, files)
    assert [(r.filename, f) for r, f in pairs] == [("a.png", "a.png"), ("b", "b.jpg"), ("sub/c", "sub/c.png")]
    assert rows_without_file == ["d.png"]  # named with an extension: d.jpg is a different file
    assert ambiguous == ["e (line 4) matches e.png, e.jpg"]
    assert files_without_row == ["d.jpg", "e.png", "e.jpg", "lonely.png"]


def test_inspect_image_reads_size_and_hash_and_refuses_non_images(tmp_path):
    path = write_image(tmp_path / "x.png", 30, 20)
    sha, width, height = importing.inspect_image(path)
    assert (len(sha), width, height) == (64, 30, 20)
    (tmp_path / "bad.png").write_bytes(b"not an image at all")
    with pytest.raises(ValueError):
        importing.inspect_image(tmp_path / "bad.png")
    truncated = path.read_bytes()[:60]
    (tmp_path / "cut.png").write_bytes(truncated)
    with pytest.raises(ValueError):
        importing.inspect_image(tmp_path / "cut.png")


@pytest.mark.parametrize("progressive", [False, True], ids=["baseline", "progressive"])
def test_a_jpeg_cut_short_is_unreadable_though_its_headers_are_whole(tmp_path, progressive):
    # Pillow's verify() reads only a JPEG's headers: the importer decodes it to reach the end.
    path = tmp_path / "x.jpg"
    PILImage.open(write_image(tmp_path / "x.png", 160, 120)).convert("RGB").save(path, "JPEG", progressive=progressive)
    whole = path.read_bytes()
    assert importing.inspect_image(path)[1:] == (160, 120)
    path.write_bytes(whole[: len(whole) * 2 // 3])
    with pytest.raises(ValueError, match="truncated"):
        importing.inspect_image(path)


def test_the_plan_keeps_the_files_order_across_the_threads_chunks(tmp_path, monkeypatch):
    names = [f"{k:02}.png" for k in range(9)]
    folder = write_dataset(tmp_path / "eyes", names=names)
    (folder / "images" / "04.png").write_bytes(b"not an image")
    (folder / "images" / "07.png").write_bytes((folder / "images" / "07.png").read_bytes()[:60])
    monkeypatch.setattr(importing, "_INSPECT_CHUNK", 2)  # chunks end inside the run, at the end and past it
    plan = importing.plan_import(folder)
    assert [(i.path, i.position) for i in plan.images] == [
        (f"images/{name}", position) for position, name in enumerate(names) if name not in ("04.png", "07.png")
    ]
    assert [line.split(":")[0] for line in plan.unreadable] == ["images/04.png", "images/07.png"]
    for image in plan.images:  # each its own file's hash and size, not a neighbour's
        assert (image.sha256, image.width, image.height) == importing.inspect_image(folder / image.path)


# --- The service and the command -------------------------------------------------------


def test_import_adds_every_image_with_its_metadata(dataset_root, db):
    report = services.dataset_import(folder=write_dataset(dataset_root / "eyes"), choices=["real", "fake"])
    assert sorted(report.added) == ["images/a.png", "images/b.png", "images/c.png"]
    a = Image.objects.get(path="images/a.png")
    assert (a.width, a.height, a.ground_truth, a.metadata) == (64, 48, "real", {"sensor": "LG0"})
    assert report.dataset.root == "eyes" and report.dataset.name == "Eyes"


def test_importing_twice_changes_nothing(dataset_root, db):
    folder = write_dataset(dataset_root / "eyes")
    services.dataset_import(folder=folder)
    before = list(Image.objects.values_list("id", "sha256", "updated_at"))
    report = services.dataset_import(folder=folder)
    assert report.added == [] and report.duplicates == [] and not report.created
    assert list(Image.objects.values_list("id", "sha256", "updated_at")) == before


def test_import_reports_each_problem_by_name(dataset_root, db):
    folder = write_dataset(
        dataset_root / "eyes",
        names=("a.png", "b.png", "extra.png"),
        csv_text="filename,ground_truth\na.png,real\nb.png,fake\nmissing.png,real\ncopy.png,real\nbroken.png,fake\n",
    )
    (folder / "images" / "copy.png").write_bytes((folder / "images" / "a.png").read_bytes())
    (folder / "images" / "broken.png").write_bytes(b"\x89PNG garbage")
    report = services.dataset_import(folder=folder)
    assert sorted(report.added) == ["images/a.png", "images/b.png"]
    assert report.duplicates == ["images/copy.png"]
    assert report.files_without_row == ["images/extra.png"]  # named as every other section names files
    assert report.rows_without_file == ["missing.png"]
    assert [u.split(":")[0] for u in report.unreadable] == ["images/broken.png"]


def test_a_broken_csv_imports_nothing(dataset_root, db):
    folder = write_dataset(dataset_root / "eyes", csv_text="filename,ground_truth\na.png,real\nb.png\n")
    with pytest.raises(importing.DatasetFolderInvalid, match="line 3 has 1 fields"):
        services.dataset_import(folder=folder)
    assert not Dataset.objects.exists() and not Image.objects.exists()


def test_a_folder_without_images_is_a_clear_error(dataset_root, db):
    (dataset_root / "empty").mkdir()
    (dataset_root / "empty" / "metadata.csv").write_text("filename\n")
    with pytest.raises(importing.DatasetFolderInvalid, match="needs an images/ folder"):
        services.dataset_import(folder=dataset_root / "empty")


def test_a_folder_outside_dataset_root_is_refused(dataset_root, tmp_path, db):
    folder = write_dataset(tmp_path / "elsewhere")
    with pytest.raises(ValidationError, match="outside DATASET_ROOT"):
        services.dataset_import(folder=folder)


def test_invalid_dataset_options_store_nothing(dataset_root, db):
    folder = write_dataset(dataset_root / "eyes")
    with pytest.raises(ValidationError, match="choices must not repeat"):
        services.dataset_import(folder=folder, choices=["real", "real"])
    assert not Dataset.objects.exists()


def test_the_command_prints_a_summary_listing_problems(dataset_root, db):
    folder = write_dataset(dataset_root / "eyes", csv_text="filename\na.png\nb.png\nghost.png\n")
    out = io.StringIO()
    call_command(
        "import_dataset",
        str(folder),
        "--choices",
        "real,fake",
        "--require",
        "choice,mask",
        stdout=out,
        stderr=io.StringIO(),
    )
    text = out.getvalue()
    assert "Created dataset 'Eyes'" in text
    assert "     2 added" in text
    assert "     1 files with no CSV row" in text and "images/c.png" in text
    assert "     1 CSV rows with no file" in text and "ghost.png" in text
    dataset = Dataset.objects.get()
    assert (dataset.choices, dataset.require_choice, dataset.require_text) == (["real", "fake"], True, False)


def run_import(folder, *options):
    out = io.StringIO()
    call_command("import_dataset", str(folder), *options, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_the_command_says_unchanged_when_a_second_import_changes_nothing(dataset_root, db):
    folder = write_dataset(dataset_root / "eyes")
    assert "Created dataset 'Eyes'" in run_import(folder, "--question", "Real?")
    assert "Unchanged dataset 'Eyes'" in run_import(folder, "--question", "Real?")
    assert "Unchanged dataset 'Eyes'" in run_import(folder)  # options not given keep their values


def test_the_command_says_updated_when_images_or_settings_changed(dataset_root, db):
    folder = write_dataset(dataset_root / "eyes", names=("a.png", "b.png"), csv_text="filename\na.png\n")
    run_import(folder)
    assert "Updated dataset 'Eyes'" in run_import(folder, "--question", "Real?")
    (folder / "metadata.csv").write_text("filename\na.png\nb.png\n")
    text = run_import(folder)
    assert "Updated dataset 'Eyes'" in text and "     1 added" in text


def test_the_command_turns_errors_into_a_message_not_a_traceback(dataset_root, db):
    with pytest.raises(CommandError, match="is not a folder"):
        call_command("import_dataset", str(dataset_root / "nowhere"), stdout=io.StringIO(), stderr=io.StringIO())
    with pytest.raises(CommandError, match="--require takes choice, mask and text"):
        call_command("import_dataset", str(dataset_root), "--require", "everything", stdout=io.StringIO())


def test_the_data_migration_imports_data_dataset_through_the_same_importer(dataset_root, db):
    write_dataset(dataset_root / "dataset")
    migration = import_module("backend.api.migrations.0003_import_data_dataset")
    migration.import_dataset(apps, schema_editor=None)
    migration.import_dataset(apps, schema_editor=None)  # and again: idempotent
    dataset = Dataset.objects.get(root="dataset")
    assert dataset.images.count() == 3


def test_the_data_migration_does_nothing_without_data_dataset(dataset_root, db):
    import_module("backend.api.migrations.0003_import_data_dataset").import_dataset(apps, schema_editor=None)
    assert not Dataset.objects.exists()


# --- Attachments: files named by metadata columns, imported with their image ---------------------


def test_attached_files_are_read_and_hashed_with_their_image(tmp_path):
    folder = write_dataset(tmp_path / "ds", names=("a.png", "b.png"), csv_text="filename,ai_saliency,reference_mask\n"
                           "a.png,maps/a.png,masks/a.png\nb.png,,\n")  # fmt: skip
    write_image(folder / "maps" / "a.png", 32, 24, seed=7)
    write_image(folder / "masks" / "a.png", seed=8)
    plan = importing.plan_import(folder)
    a, b = plan.images
    assert [(x.kind, x.path, x.width, x.height) for x in a.attachments] == [
        ("ai_saliency", "maps/a.png", 32, 24),
        ("reference_mask", "masks/a.png", 64, 48),
    ]
    assert all(len(x.sha256) == 64 for x in a.attachments) and b.attachments == ()
    assert a.metadata["ai_saliency"] == "maps/a.png" and plan.attachments_missing == []


@pytest.mark.parametrize(
    "value, problem",
    [("maps/none.png", "maps/none.png does not exist"), ("../outside.png", "lies outside the dataset's folder"),
     ("/etc/passwd", "lies outside the dataset's folder"), ("maps/bad.png", "maps/bad.png: ")],
)  # fmt: skip
def test_a_missing_unreadable_or_escaping_attachment_is_reported_and_the_image_imported(tmp_path, value, problem):
    folder = write_dataset(tmp_path / "ds", names=("a.png",), csv_text=f"filename,ai_saliency\na.png,{value}\n")
    (folder / "maps").mkdir()
    (folder / "maps" / "bad.png").write_bytes(b"not a png")
    (tmp_path / "outside.png").write_bytes(b"x")
    plan = importing.plan_import(folder)
    assert [image.path for image in plan.images] == ["images/a.png"] and plan.images[0].attachments == ()
    assert len(plan.attachments_missing) == 1 and problem in plan.attachments_missing[0]
    assert plan.attachments_missing[0].startswith("ai_saliency of images/a.png")


def test_a_reimport_adds_the_attachments_an_image_lacks(dataset_root, db):
    from backend.api import services
    from backend.api.models import ImageAttachment

    folder = write_dataset(dataset_root / "ds", names=("a.png",), csv_text="filename,ai_saliency\na.png,maps/a.png\n")
    report = services.dataset_import(folder=folder)
    assert report.attachments_missing and ImageAttachment.objects.count() == 0
    write_image(folder / "maps" / "a.png", seed=3)
    services.dataset_import(folder=folder)
    attachment = ImageAttachment.objects.get()
    assert (attachment.kind, attachment.path, attachment.image.path) == ("ai_saliency", "maps/a.png", "images/a.png")
    services.dataset_import(folder=folder)
    assert ImageAttachment.objects.count() == 1
