"""Bringing an original EyeTagger deployment over: the service and the command, on fixtures made from the reference."""

import gzip
import io

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from backend.api import masks, services
from backend.api import strokes as strokes_mod
from backend.api.models import (
    Annotation,
    AnnotationRevision,
    AnnotatorProgress,
    Assignment,
    Dataset,
    Image,
    OriginalAccount,
    OriginalAnnotation,
    Profile,
    Role,
)
from backend.api.original import rows
from backend.api.original.dump import DumpInvalid, PgDump
from backend.api.selectors.queue import queue_check
from backend.api.services.queue import queue_next
from backend.api.token_models import ApiToken, token_digest

from . import original_fixtures as fx
from .test_original_drawing import reference_mask

DEFAULT_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]


@pytest.fixture
def deploy(tmp_path, settings):
    """Return a function writing an original deployment below DATASET_ROOT: (dataset folder, dump path)."""
    root = tmp_path / "datasets"
    root.mkdir()
    settings.DATASET_ROOT = root
    settings.PASSWORD_HASHERS = DEFAULT_HASHERS  # the original's hashes are PBKDF2 (the suite's default is MD5)

    def write(deployment=None, *, era="final", folder="original", **options):
        return fx.write_deployment(deployment or fx.corner_cases(era), root / folder, **options)

    return write


def run(dump, dataset_dir, **options):
    return services.original_import(
        source=PgDump(dump, keep=rows.SMALL_TABLES).scan(), dataset_dir=dataset_dir, **options
    )


@pytest.fixture
def imported(deploy, db):
    dataset_dir, dump = deploy()
    return run(dump, dataset_dir, name="Original irises", tokens=True)


def _annotation(original_id: int) -> Annotation:
    return Annotation.objects.select_related("image", "annotator", "original").get(original__original_id=original_id)


# --- Users ----------------------------------------------------------------------------------


def test_users_come_over_with_their_hash_flags_dates_and_roles(imported):
    users = {u.username: u for u in User.objects.select_related("profile").prefetch_related("groups")}
    assert set(users) == {"admin", "alice", "bob", "carol", "dave", "erin"}
    alice = users["alice"]
    assert alice.password == fx.django_hash("alice-pass-1", "salt00000002") and alice.email == "alice@example.org"
    assert alice.first_name == "Alice" and alice.date_joined.isoformat() == "2020-07-11T14:00:00+00:00"
    assert [g.name for g in alice.groups.all()] == [Role.ANNOTATOR] and not alice.is_staff
    assert users["admin"].is_superuser and users["admin"].is_staff  # the admin role
    assert users["erin"].is_staff and not users["erin"].is_superuser  # staff: the admin role too
    assert users["bob"].profile.is_test and not users["carol"].profile.is_test  # carol had no profile: not a test user
    assert not users["dave"].is_active and not users["dave"].has_usable_password()
    assert "dave has no usable password in the original either" in imported.user_notes[0]
    assert sorted(imported.tokens) == ["admin", "alice"]
    assert ApiToken.objects.get(user=alice).digest == token_digest("0123456789abcdef" * 2 + "01234567")
    assert OriginalAccount.objects.get(original_id=2).user == alice


def test_an_original_user_signs_in_with_their_old_password(imported):
    client = APIClient()
    refused = client.post("/api/auth/token/login/", {"username": "alice", "password": "wrong"}, format="json")
    assert refused.status_code == 401
    answer = client.post("/api/auth/token/login/", {"username": "alice", "password": "alice-pass-1"}, format="json")
    assert answer.status_code == 200, answer.content
    # Django hashed it again at today's strength on the way in.
    assert not User.objects.get(username="alice").password.startswith("pbkdf2_sha256$1000$")


def test_usernames_taken_here_are_refused_with_the_way_out(deploy, make_user):
    make_user(username="alice")
    make_user(username="bob")
    dataset_dir, dump = deploy()
    with pytest.raises(ValidationError) as caught:
        run(dump, dataset_dir)
    message = caught.value.messages[0]
    assert "these usernames of the original are taken here already: alice, bob. Nothing was imported." in message
    assert (
        "--map-user alice=alice if they are the same person" in message and "--map-user alice=alice_original" in message
    )
    assert not Dataset.objects.exists() and User.objects.count() == 2


def test_map_user_joins_an_existing_account_or_makes_a_new_one(deploy, make_user):
    existing = make_user(username="alice")
    make_user(username="bob")
    dataset_dir, dump = deploy()
    report = run(dump, dataset_dir, user_map={"alice": "alice", "bob": "bob_original"})
    assert report.users_mapped == ["alice → alice (existing account, kept as it is)"]
    assert "bob_original (was bob): annotator, test user" in report.users_created
    existing.refresh_from_db()
    assert existing.password != fx.django_hash("alice-pass-1", "salt00000002")  # their own password stays
    assert _annotation(7).annotator == existing and _annotation(10).annotator.username == "bob_original"
    with pytest.raises(ValidationError, match="--map-user names zed, who is not a user of the original"):
        run(dump, dataset_dir, user_map={"zed": "z"})


# --- Images ---------------------------------------------------------------------------------


def test_images_are_matched_by_sha256_and_every_file_problem_is_listed_by_name(imported):
    dataset = imported.dataset
    images = {i.path: i for i in Image.objects.filter(dataset=dataset)}
    assert set(images) == {
        "images/img1.png",
        "images/img2.png",
        "images/img3.png",
        "images/img4.jpg",
        "images/scan.tiff",
        "images/renamed_now.png",
    }
    assert images["images/img1.png"].ground_truth == "real" and images["images/img3.png"].ground_truth is None  # 'nan'
    assert images["images/img1.png"].metadata == {"sensor": "LG4000", "original_id": "1"}
    assert [i.path for i in Image.objects.filter(dataset=dataset).order_by("position")][:2] == [
        "images/img1.png",
        "images/img2.png",
    ]
    assert imported.files_renamed == [
        "renamed_then.png (api_image id 6 (dump line 287), img_id "
        f"{images['images/renamed_now.png'].sha256[:12]}…): found as images/renamed_now.png"
    ]
    assert [m.split(" (")[0] for m in imported.files_missing] == ["gone.png"]
    assert [m.split(" (")[0] for m in imported.files_changed] == ["changed.png"]
    assert imported.files_without_row == [
        "images/changed.png",
        "images/stray.png",
        "images/twin.png: the same bytes as images/img1.png (one row in the original)",
    ]
    assert imported.csv_rows_without_file == ["changed (line 8)", "gone (line 9)", "twin (line 10)"]
    assert dataset.question == "Is this image real or fake?" and dataset.choices == ["real", "fake"]


@pytest.mark.parametrize("era", ["iris", "text", "buttons"])
def test_before_the_ground_truth_column_it_comes_from_metadata_csv_and_extra_columns_are_kept(deploy, db, era):
    dataset_dir, dump = deploy(era=era)
    report = run(dump, dataset_dir)
    image = Image.objects.get(dataset=report.dataset, path="images/img2.png")
    assert image.ground_truth == "spoof"
    if era == "iris":
        assert image.metadata == {
            "user_id": "04231",
            "sample_id": "2",
            "eye": "R",
            "lens_type": "F",
            "nir_illumination": "D",
            "lens_brand": "Air Optix",
            "is_regular": "false",
            "original_id": "2",
        }
        assert report.dataset.choices == []  # no buttons yet: no question asked
    else:
        assert report.dataset.choices == (["real", "fake"] if era == "buttons" else [])


# --- Annotations ----------------------------------------------------------------------------


def test_annotations_keep_answer_text_and_times_and_are_submitted(imported):
    assert imported.annotations_created == 9
    seven = _annotation(7)
    assert (seven.annotator.username, seven.image.path) == ("alice", "images/img1.png")
    assert seven.label == "fake" and seven.text == "" and seven.original.text == "enter text here"
    assert seven.status == "submitted" and seven.version == 1
    assert seven.started_at.timestamp() * 1000 == fx.EPOCH_2024 and seven.active_ms == 4080
    assert seven.submitted_at.timestamp() * 1000 == fx.EPOCH_2024 + 4080
    assert seven.client == {
        "imported_from": "original-eyetagger",
        "original_id": 7,
        "strokes_from": "svg",
        "device_pixel_ratio": 1.0,
    }
    nine = _annotation(9)
    assert nine.label == "real" and nine.text.startswith(
        "irregular texture\twith a tab, 'quotes', \"double\", a back\\slash"
    )
    assert _annotation(12).text == "" and _annotation(12).original.text == "testing"  # the 2023-08 placeholder
    assert _annotation(13).label is None  # both buttons: no answer, and a note
    assert any("api_annotation id 13" in n and "both buttons" in n for n in imported.annotation_notes)
    unknown = _annotation(12)  # no times: no submission time, opened at the import
    assert unknown.submitted_at is None and unknown.active_ms == 0
    assert _annotation(16).original.png.startswith(b"\x89PNG")
    assert _annotation(15).original.png == b"" and _annotation(15).client["strokes_from"] == "svg only"
    assert [m.split(":")[0] for m in imported.annotations_skipped] == [
        "api_annotation id 21 (dump line 272)",
        "api_annotation id 22 (dump line 273)",
    ]


def test_every_imported_mask_is_the_pngs_pixel_for_pixel_and_the_strokes_give_it(imported):
    checked = 0
    for annotation in Annotation.objects.select_related("image", "original"):
        image = annotation.image
        mask = masks.rle_decode(annotation.mask_rle, image.width, image.height)
        assert (strokes_mod.rasterize(annotation.strokes, image.width, image.height) == mask).all()
        assert annotation.mask_area == mask.sum() and annotation.stroke_count == len(annotation.strokes)
        if annotation.original.png:
            assert (mask == reference_mask(bytes(annotation.original.png), image.width, image.height)).all()
            checked += 1
        brushes = [s for s in annotation.strokes if s["tool"] == "brush"]
        if brushes and annotation.original.png:
            painted = strokes_mod.rasterize(brushes, image.width, image.height)
            assert (painted & mask).sum() / (painted | mask).sum() >= 0.99
    assert checked == 8
    assert imported.svg_rows == 6 and "rows with both" in imported.svg_agreement()


def test_imported_work_shows_in_exports_masks_and_heat_maps(imported, make_user, client_for):
    client = client_for(make_user(Role.RESEARCHER))
    seven = _annotation(7)
    png = client.get(f"/api/annotations/{seven.pk}/mask.png?depth=8")
    assert png.status_code == 200
    from PIL import Image as PILImage

    served = np.asarray(PILImage.open(io.BytesIO(png.content))) > 0
    assert (served == reference_mask(bytes(seven.original.png), 96, 72)).all()
    coco = client.get(f"/api/datasets/{imported.dataset.pk}/export/?format=coco")
    assert coco.status_code == 200
    exported = b"".join(coco.streaming_content) if coco.streaming else coco.content
    assert seven.mask_rle.encode() in exported
    heat = client.get(f"/api/images/{seven.image_id}/saliency.npy")
    # alice's; bob is a test user, and admin an admin, whose work is test work too
    assert heat.status_code == 200 and int(heat["X-Annotation-Count"]) == 1
    strokes = client.get(f"/api/annotations/{seven.pk}/strokes.json")
    assert strokes.status_code == 200 and strokes.json()["client"]["imported_from"] == "original-eyetagger"


def test_the_queue_counts_imported_work(imported):
    dataset = imported.dataset
    assert queue_check(dataset=dataset) == []
    alice = User.objects.get(username="alice")
    assert Assignment.objects.filter(annotator=alice, status="submitted").count() == 4
    progress = AnnotatorProgress.objects.get(dataset=dataset, annotator=alice)
    assert progress.submitted_count == 4 and progress.active_ms == 4080 + 3300 + 400 + 1200
    handed = queue_next(dataset=dataset, annotator=alice)
    assert handed.image.path in ("images/img4.jpg", "images/scan.tiff")  # never one she already did
    # alice's; bob is a test user, and admins' work is test work
    assert Image.objects.get(dataset=dataset, path="images/img1.png").submitted_count == 1


# --- Each era, each style pg_dump writes ----------------------------------------------------


@pytest.mark.parametrize(
    "era, style, compress",
    [
        ("iris", "copy", True),
        ("iris", "inserts", False),
        ("text", "column-inserts", True),
        ("buttons", "copy", False),
        ("buttons", "rows-per-insert", True),
        ("ground_truth", "inserts", True),
        ("final", "rows-per-insert", False),
        ("final", "column-inserts", True),
    ],
)
def test_each_era_imports_from_each_style_of_dump(deploy, db, era, style, compress):
    dataset_dir, dump = deploy(
        era=era, style=style, compress=compress, column_order="alphabetical" if style == "inserts" else "chronological"
    )
    report = run(dump, dataset_dir)
    assert report.annotations_created == 9 and len(report.users_created) == 6
    for annotation in Annotation.objects.select_related("image", "original"):
        image = annotation.image
        mask = masks.rle_decode(annotation.mask_rle, image.width, image.height)
        if annotation.original.png:
            assert (mask == reference_mask(bytes(annotation.original.png), image.width, image.height)).all()
        assert (strokes_mod.rasterize(annotation.strokes, image.width, image.height) == mask).all()
    expected = {"iris": {"png": 8}, "text": {"png": 8}, "buttons": {"png": 8}, "ground_truth": {"png": 8}}
    if era in expected:
        assert set(report.strokes_from) <= {"png", "none"} and report.svg_rows == 0
    red = _annotation(17)
    assert red.mask_area > 0  # the 2020 red brush counts as much as the green


# --- All or nothing, idempotent, dry run -----------------------------------------------------


def _snapshot():
    """Return every row the import writes, as values (timestamps included)."""
    models = [
        User,
        Profile,
        Dataset,
        Image,
        Annotation,
        AnnotationRevision,
        Assignment,
        AnnotatorProgress,
        OriginalAccount,
        OriginalAnnotation,
        ApiToken,
    ]
    return {model.__name__: sorted(map(repr, model.objects.values_list())) for model in models}


def test_a_second_run_changes_nothing_and_says_so(deploy, db):
    dataset_dir, dump = deploy()
    run(dump, dataset_dir, name="Original irises", tokens=True)
    before = _snapshot()
    again = run(dump, dataset_dir, name="Original irises", tokens=True)
    assert _snapshot() == before
    assert again.annotations_created == 0 and again.annotations_unchanged == 9 and len(again.users_already) == 6
    assert again.summary()[-1] == "Nothing to do: everything here was imported before."


def test_a_dry_run_writes_nothing_and_reports_what_a_real_run_does(deploy, db):
    dataset_dir, dump = deploy()
    before = _snapshot()
    dry = run(dump, dataset_dir, dry_run=True)
    assert _snapshot() == before
    real = run(dump, dataset_dir)
    assert dry.dry_run and dry.summary() == real.summary() and dry.sections() == real.sections()


def _corrupt(dump, old: bytes, new: bytes):
    data = gzip.decompress(dump.read_bytes())
    assert old in data
    dump.write_bytes(gzip.compress(data.replace(old, new, 1)))


@pytest.mark.parametrize(
    "old, new, message",
    [
        (
            b"data:image/png;base64,iVBORw0KGgo",
            b"data:image/png;base64,iVBORw0KGgX",
            r"api_annotation id 7 \(dump line 263\): the annotation's PNG: it does not decode",
        ),
        (
            b"<desc>Created",
            b"<desc Created",
            r"api_annotation id 7 \(dump line 263\): annotation_svg: it does not parse as XML",
        ),
    ],
)
def test_a_row_that_cannot_be_read_imports_nothing_and_names_the_row(deploy, db, old, new, message):
    dataset_dir, dump = deploy()
    _corrupt(dump, old, new)
    with pytest.raises(rows.OriginalInvalid, match=message + r".* Nothing was imported\. .* --skip-annotation 7"):
        run(dump, dataset_dir)
    assert not (Dataset.objects.exists() or Image.objects.exists() or Annotation.objects.exists())
    assert not User.objects.exists()
    report = run(dump, dataset_dir, skip_annotations=[7])
    assert report.annotations_created == 8
    assert "api_annotation id 7 (dump line 263): left out as asked (--skip-annotation)" in report.annotations_skipped


def test_a_truncated_or_incomplete_dump_imports_nothing(deploy, db):
    dataset_dir, dump = deploy(compress=False)
    text = dump.read_text()
    dump.write_text(text[: text.index("COPY public.auth_user")])
    with pytest.raises(DumpInvalid, match="cut short"):
        run(dump, dataset_dir)
    dump.write_text(text.replace("public.api_image ", "public.api_images "))
    with pytest.raises(rows.OriginalInvalid, match="has no table api_image"):
        run(dump, dataset_dir)
    assert not (Dataset.objects.exists() or User.objects.exists())


def test_a_row_naming_no_known_image_or_user_imports_nothing(deploy, db):
    dataset_dir, dump = deploy()
    _corrupt(dump, b"\n7\tdata:image/png;base64,", b"\n7\tdata:image/png;base64,")  # sanity: the row is there
    data = gzip.decompress(dump.read_bytes())
    line = next(x for x in data.split(b"\n") if x.startswith(b"9\tdata:"))
    fields = line.split(b"\t")
    fields[2] = b"99"
    dump.write_bytes(gzip.compress(data.replace(line, b"\t".join(fields))))
    with pytest.raises(
        rows.OriginalInvalid,
        match=r"api_annotation id 9 \(dump line 264\) names the annotator 99, who is not in auth_user",
    ):
        run(dump, dataset_dir)
    assert not User.objects.exists()


def test_a_dataset_folder_without_the_originals_images_is_refused(deploy, db, tmp_path, settings):
    _, dump = deploy()
    other = settings.DATASET_ROOT / "other"
    fx.write_dataset(fx.Deployment("final", [], [fx.ImageSpec("x.png", seed=99)], []), other)
    with pytest.raises(
        rows.OriginalInvalid, match="none of the original's 8 images is in .*: is --dataset-dir the original's"
    ):
        run(dump, other / "dataset")
    with pytest.raises(ValidationError, match="outside DATASET_ROOT"):
        run(dump, tmp_path)


# --- A later backup: rows changed since ------------------------------------------------------


def test_a_row_changed_in_a_later_backup_is_imported_again_keeping_a_revision(deploy, db):
    deployment = fx.corner_cases()
    dataset_dir, dump = deploy(deployment)
    run(dump, dataset_dir)
    before = _annotation(7)
    deployment.annotations[0].strokes.append(
        fx.Stroke([(10.0, 60.0), (30.0, 62.0), (50.0, 64.0)], 4, fx.EPOCH_2024 + 5000, fx.EPOCH_2024 + 5500)
    )
    fx.write_deployment(deployment, dataset_dir.parent)
    report = run(dump, dataset_dir)
    after = _annotation(7)
    assert report.annotations_updated == ["7: alice on images/img1.png"] and report.annotations_unchanged == 8
    assert after.version == 2 and after.original.imported_version == 2 and after.mask_area > before.mask_area
    revision = AnnotationRevision.objects.get(annotation=after)
    assert revision.version == 1 and revision.strokes == before.strokes
    assert (masks.rle_decode(after.mask_rle, 96, 72) == reference_mask(bytes(after.original.png), 96, 72)).all()
    assert queue_check(dataset=report.dataset) == []


def test_an_annotation_changed_here_since_is_kept(deploy, db):
    deployment = fx.corner_cases()
    dataset_dir, dump = deploy(deployment)
    run(dump, dataset_dir)
    seven = _annotation(7)
    services.annotation_save(
        image=seven.image,
        annotator=seven.annotator,
        content=services.AnnotationContent(seven.strokes, "real", "changed my mind", "submitted"),
        base_version=1,
    )
    deployment.annotations[0].text = "edited in the original too"
    fx.write_deployment(deployment, dataset_dir.parent)
    report = run(dump, dataset_dir)
    assert report.annotations_kept == [
        "api_annotation id 7 (dump line 263): alice on images/img1.png was changed here since its import; "
        "EyeTagger's version is kept"
    ]
    assert _annotation(7).text == "changed my mind"


# --- The command ----------------------------------------------------------------------------


def test_the_command_prints_the_report_and_a_dry_run_says_it_wrote_nothing(deploy, db):
    dataset_dir, dump = deploy()
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "import_original",
        "--dump",
        str(dump),
        "--dataset-dir",
        str(dataset_dir),
        "--name",
        "Irises",
        "--dry-run",
        stdout=out,
        stderr=err,
    )
    text = out.getvalue()
    assert "Would create dataset 'Irises'" in text and "Dry run: nothing was written." in text
    assert "Annotations: 9 imported" in text and "     2 annotations not imported" in text
    assert "SVG against PNG:" in text and "Annotations: 100%" in err.getvalue()
    assert not Dataset.objects.exists()
    out = io.StringIO()
    call_command(
        "import_original",
        "--dump",
        str(dump),
        "--dataset-dir",
        str(dataset_dir),
        "--choices",
        "live,spoof",
        "--map-user",
        "alice=alice2,bob=bob2",
        "--skip-annotation",
        "9",
        stdout=out,
        stderr=io.StringIO(),
    )
    assert "Created dataset" in out.getvalue()
    assert _annotation(7).label == "spoof" and _annotation(7).annotator.username == "alice2"
    assert not Annotation.objects.filter(original__original_id=9).exists()


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--choices", "a,b,c"], "two choices; got 3"),
        (["--map-user", "alice"], "--map-user takes OLD=NEW"),
    ],
)
def test_the_command_turns_errors_into_a_message_not_a_traceback(deploy, db, arguments, message):
    dataset_dir, dump = deploy()
    with pytest.raises(CommandError, match=message):
        call_command(
            "import_original",
            "--dump",
            str(dump),
            "--dataset-dir",
            str(dataset_dir),
            *arguments,
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    with pytest.raises(CommandError, match="does not exist"):
        call_command(
            "import_original",
            "--dump",
            str(dump) + ".nope",
            "--dataset-dir",
            str(dataset_dir),
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )


def test_two_original_users_mapped_to_one_account_keep_the_first_row_of_an_image(deploy, make_user):
    carl = make_user(username="carl")
    dataset_dir, dump = deploy()
    report = run(dump, dataset_dir, user_map={"alice": "carl", "bob": "carl"})
    assert report.annotations_created == 8  # alice's and bob's rows on img1: one kept
    assert any(
        line.startswith("api_annotation id 10 (dump line 265): a second row for carl on images/img1.png")
        for line in report.annotations_skipped
    )
    assert Annotation.objects.get(annotator=carl, image__path="images/img1.png").original.original_id == 7


# --- Decoding in worker processes (a large import) ------------------------------------------


@pytest.fixture
def worker_pool(monkeypatch):
    """Have every import decode in worker processes, as one of more than decode.POOL_FROM rows does; count pools."""
    from backend.api.original import decode

    started = []

    class CountedPool(decode.ProcessPoolExecutor):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr(decode, "POOL_FROM", 1)
    monkeypatch.setattr(decode, "ProcessPoolExecutor", CountedPool)
    monkeypatch.setattr(decode, "cores", lambda: 2)
    return started


def test_rows_decoded_in_worker_processes_import_as_in_this_one(deploy, db, worker_pool):
    from backend.api.original import decode

    dataset_dir, dump = deploy()
    report = run(dump, dataset_dir, name="Original irises")
    assert len(worker_pool) == 1 and report.annotations_created == 9
    source = PgDump(dump, keep=rows.SMALL_TABLES).scan()
    compared = 0
    for row in rows.read_annotations(source):
        if not OriginalAnnotation.objects.filter(original_id=row.id).exists():
            continue  # left out (its image is missing): listed in the report, tested above
        compared += 1
        annotation = _annotation(row.id)
        here = decode.decode_row(row, annotation.image.width, annotation.image.height)  # in this process
        assert annotation.strokes == here.strokes and annotation.mask_rle == here.mask_rle
        assert annotation.original.notes == here.notes and annotation.mask_area == here.mask_area
        if annotation.original.png:
            mask = masks.rle_decode(annotation.mask_rle, annotation.image.width, annotation.image.height)
            assert (mask == reference_mask(bytes(annotation.original.png), mask.shape[1], mask.shape[0])).all()
    assert compared == 9
    assert not run(dump, dataset_dir).changed_anything and len(worker_pool) == 1  # nothing to decode: no pool


def test_a_row_unreadable_in_a_worker_process_imports_nothing_and_names_the_row(deploy, db, worker_pool):
    dataset_dir, dump = deploy()
    _corrupt(dump, b"data:image/png;base64,iVBORw0KGgo", b"data:image/png;base64,iVBORw0KGgX")
    with pytest.raises(rows.OriginalInvalid, match=r"api_annotation id 7 \(dump line 263\): the annotation's PNG"):
        run(dump, dataset_dir)
    assert len(worker_pool) == 1
    assert not (Dataset.objects.exists() or Image.objects.exists() or Annotation.objects.exists())
