"""Importing a dataset from a zip archive: the layouts accepted, and archives refused with nothing stored."""

import io
import stat
import zipfile

import pytest

from backend.api import importing, services
from backend.api.models import Dataset, Image

from .conftest import write_dataset

pytestmark = pytest.mark.django_db


def zipped(folder, prefix="", extra=()):
    """Return a zip (as a file object) of a dataset folder, its members under prefix, plus extra (name, bytes)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, prefix + path.relative_to(folder).as_posix())
        for name, data in extra:
            archive.writestr(name, data)
    buffer.seek(0)
    return buffer


def with_symlink(buffer, name, target):
    """Add a symbolic link member to a zip."""
    buffer.seek(0, io.SEEK_END)
    with zipfile.ZipFile(buffer, "a") as archive:
        info = zipfile.ZipInfo(name)
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, target)
    buffer.seek(0)
    return buffer


def uploads(dataset_root):
    folder = dataset_root / "uploads"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_an_archive_is_unpacked_below_uploads_and_imported(dataset_root, tmp_path):
    source = write_dataset(tmp_path / "src")
    report = services.dataset_import_zip(archive=zipped(source), name="Zipped irises", question="Real?")
    assert report.created and len(report.added) == 3
    assert report.dataset.root == "uploads/zipped-irises"
    assert (dataset_root / "uploads" / "zipped-irises" / "images" / "a.png").is_file()
    assert report.dataset.image_count == 3 and report.dataset.question == "Real?"


def test_a_zipped_folder_with_one_top_folder_is_accepted(dataset_root, tmp_path):
    source = write_dataset(tmp_path / "src")
    report = services.dataset_import_zip(archive=zipped(source, prefix="my-irises/"), name="Irises")
    assert len(report.added) == 3
    assert Image.objects.filter(dataset=report.dataset, path="images/b.png").exists()


def test_two_uploads_with_one_name_get_two_folders(dataset_root, tmp_path):
    source = write_dataset(tmp_path / "src")
    first = services.dataset_import_zip(archive=zipped(source), name="Irises").dataset
    second = services.dataset_import_zip(archive=zipped(source), name="Irises").dataset
    assert (first.root, second.root) == ("uploads/irises", "uploads/irises-2")


ESCAPES = [
    ("dot-dot", "../evil.png", "leads outside the dataset's folder"),
    ("deep dot-dot", "images/../../evil.png", "leads outside the dataset's folder"),
    ("absolute", "/tmp/evil.png", "is an absolute path"),
    ("drive letter", "C:/evil.png", "is an absolute path"),
    ("backslashes", "..\\evil.png", "uses backslashes"),
]


@pytest.mark.parametrize("case, name, message", ESCAPES, ids=[c[0] for c in ESCAPES])
def test_paths_that_escape_the_folder_are_refused_and_nothing_is_stored(case, name, message, dataset_root, tmp_path):
    source = write_dataset(tmp_path / "src")
    with pytest.raises(importing.DatasetFolderInvalid) as raised:
        services.dataset_import_zip(archive=zipped(source, extra=[(name, b"x")]), name="Evil")
    assert message in str(raised.value) and "nothing was stored" in str(raised.value)
    assert name in str(raised.value) or repr(name) in str(raised.value)
    assert not Dataset.objects.exists() and uploads(dataset_root) == []
    assert not (dataset_root.parent / "evil.png").exists() and not (tmp_path / "evil.png").exists()


def test_symbolic_links_are_refused(dataset_root, tmp_path):
    source = write_dataset(tmp_path / "src")
    archive = with_symlink(zipped(source), "images/passwd.png", "/etc/passwd")
    with pytest.raises(importing.DatasetFolderInvalid, match="'images/passwd.png' is a symbolic link"):
        services.dataset_import_zip(archive=archive, name="Links")
    assert not Dataset.objects.exists() and uploads(dataset_root) == []


def test_an_archive_larger_than_the_limit_is_refused(dataset_root, tmp_path, settings):
    settings.DATASET_UPLOAD_MAX_BYTES = 1000
    source = write_dataset(tmp_path / "src")
    with pytest.raises(importing.DatasetFolderInvalid, match="DATASET_UPLOAD_MAX_BYTES"):
        services.dataset_import_zip(archive=zipped(source), name="Big")
    assert uploads(dataset_root) == []


def test_a_file_that_is_not_a_zip_is_refused(dataset_root):
    with pytest.raises(importing.DatasetFolderInvalid, match="not a readable zip archive"):
        services.dataset_import_zip(archive=io.BytesIO(b"PNG, not a zip"), name="Nope")


def test_an_archive_without_metadata_is_refused(dataset_root, tmp_path):
    source = write_dataset(tmp_path / "src")
    (source / "metadata.csv").unlink()
    with pytest.raises(importing.DatasetFolderInvalid, match="no metadata.csv"):
        services.dataset_import_zip(archive=zipped(source), name="No CSV")
    assert uploads(dataset_root) == []


def test_a_failed_import_leaves_no_folder_behind(dataset_root, tmp_path):
    source = write_dataset(tmp_path / "src", csv_text="filename\na.png\na.png\n")  # a repeated row
    with pytest.raises(importing.DatasetFolderInvalid, match="repeats the filename"):
        services.dataset_import_zip(archive=zipped(source), name="Broken")
    assert not Dataset.objects.exists() and uploads(dataset_root) == []


# --- Through the admin page ------------------------------------------------------------------


@pytest.fixture
def admin_client(client, make_user):
    from backend.api.models import Role

    boss = make_user(Role.ADMIN)
    boss.is_superuser = True
    boss.save()
    client.force_login(boss)
    return client


def form(**fields):
    return {
        "name": "Uploaded",
        "question": "Is this image real or fake?",
        "choices": "real, fake",
        "require_choice": "on",
        "require_mask": "on",
        "order": "random",
        "access": "all",
        "lease_minutes": "30",
        **fields,
    }


def test_admins_upload_a_zip_and_see_the_import_report(admin_client, dataset_root, tmp_path):
    source = write_dataset(tmp_path / "src", names=("a.png", "b.png"))
    (source / "images" / "stray.png").write_bytes((source / "images" / "a.png").read_bytes())
    archive = zipped(source)
    archive.name = "irises.zip"
    response = admin_client.post("/api/admin/api/dataset/import/", form(archive=archive, annotators_per_image="2"))
    body = response.content.decode()
    assert response.status_code == 200, body
    assert "Created the dataset" in body and "2 added" in body and "1 files with no CSV row" in body
    dataset = Dataset.objects.get()
    assert (dataset.choices, dataset.annotators_per_image, dataset.require_choice) == (["real", "fake"], 2, True)


def test_admins_import_a_folder_on_the_server(admin_client, dataset_root):
    write_dataset(dataset_root / "on-server")
    response = admin_client.post("/api/admin/api/dataset/import/", form(folder="on-server"))
    assert "3 added" in response.content.decode()
    assert Dataset.objects.get().root == "on-server"


def test_the_admin_page_refuses_an_escaping_archive_with_a_clear_message(admin_client, dataset_root, tmp_path):
    archive = zipped(write_dataset(tmp_path / "src"), extra=[("../../evil.png", b"x")])
    archive.name = "evil.zip"
    response = admin_client.post("/api/admin/api/dataset/import/", form(archive=archive))
    body = response.content.decode()
    assert "Nothing was imported" in body and "leads outside the dataset&#x27;s folder" in body
    assert not Dataset.objects.exists() and uploads(dataset_root) == []


def test_the_admin_page_wants_a_zip_or_a_folder(admin_client, dataset_root):
    response = admin_client.post("/api/admin/api/dataset/import/", form())
    assert "Upload a zip archive or name a folder" in response.content.decode()


def test_the_import_command_sets_the_assignment(dataset_root):
    from django.core.management import call_command

    folder = write_dataset(dataset_root / "study")
    options = ["--annotators-per-image", "3", "--images-per-annotator", "2", "--order", "file", "--lease-minutes", "45"]
    call_command("import_dataset", str(folder), *options, stdout=io.StringIO(), stderr=io.StringIO())
    dataset = Dataset.objects.get()
    assert (dataset.annotators_per_image, dataset.images_per_annotator, dataset.order, dataset.lease_minutes) == (
        3,
        2,
        "file",
        45,
    )


def test_the_admin_page_refuses_a_folder_outside_the_dataset_root(admin_client, dataset_root, tmp_path):
    write_dataset(tmp_path / "elsewhere")
    response = admin_client.post("/api/admin/api/dataset/import/", form(folder="../elsewhere"))
    body = response.content.decode()
    assert "Nothing was imported" in body and "outside DATASET_ROOT" in body
    assert not Dataset.objects.exists()
