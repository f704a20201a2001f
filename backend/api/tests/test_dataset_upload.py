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


# --- DATASET_UPLOAD_ROOT: a writable folder of its own, since DATASET_ROOT may be read-only -------------


@pytest.fixture
def upload_root(tmp_path, settings, dataset_root):
    """A DATASET_UPLOAD_ROOT apart from DATASET_ROOT, as in docker compose (a volume beside a read-only mount)."""
    root = tmp_path / "upload-volume"
    root.mkdir()
    settings.DATASET_UPLOAD_ROOT = root
    return root


def test_an_archive_is_unpacked_into_the_upload_root_and_its_images_are_served(
    upload_root, dataset_root, tmp_path, make_user, client_for, settings
):
    from backend.api.models import Role

    source = write_dataset(tmp_path / "src")
    report = services.dataset_import_zip(archive=zipped(source), name="Zipped irises")
    assert report.dataset.root == "uploads/zipped-irises"
    assert (upload_root / "zipped-irises" / "images" / "a.png").is_file()
    assert list(dataset_root.iterdir()) == []  # nothing written below DATASET_ROOT
    image = report.dataset.images.get(path="images/a.png")
    client = client_for(make_user(Role.ANNOTATOR))
    served = b"".join(client.get(f"/api/images/{image.pk}/file/").streaming_content)
    assert served == (source / "images" / "a.png").read_bytes()
    # Behind Nginx, the internal location's uploads/ maps to the upload root (deploy/nginx/eyetagger.conf).
    settings.IMAGES_ACCEL_REDIRECT = "/protected-datasets/"
    response = client.get(f"/api/images/{image.pk}/file/")
    assert response["X-Accel-Redirect"] == "/protected-datasets/uploads/zipped-irises/images/a.png"


def test_unpacked_folders_are_readable_by_other_users(upload_root, tmp_path):
    # Nginx serves the images as its own user, not as the web tier's.
    report = services.dataset_import_zip(archive=zipped(write_dataset(tmp_path / "src")), name="Irises")
    folder = upload_root / "irises"
    assert folder.stat().st_mode & 0o777 == 0o755
    assert (folder / "images" / "a.png").stat().st_mode & 0o004
    assert report.created


def test_a_name_a_dataset_already_has_is_not_reused_even_without_its_folder(upload_root, tmp_path):
    Dataset.objects.create(name="Irises", slug="irises", root="uploads/irises")  # its folder was removed
    report = services.dataset_import_zip(archive=zipped(write_dataset(tmp_path / "src")), name="Irises")
    assert report.dataset.root == "uploads/irises-2" and report.created


def test_a_folder_in_the_upload_root_imports_as_an_uploaded_dataset(upload_root):
    write_dataset(upload_root / "copied-in")
    assert services.dataset_root_of(upload_root / "copied-in") == "uploads/copied-in"
    report = services.dataset_import(folder=upload_root / "copied-in")
    assert report.dataset.root == "uploads/copied-in" and len(report.added) == 3


def test_uploads_below_the_dataset_root_is_reserved_when_the_upload_root_is_elsewhere(upload_root, dataset_root):
    from django.core.exceptions import ValidationError

    write_dataset(dataset_root / "uploads" / "old")
    with pytest.raises(ValidationError, match="reserved for uploaded datasets"):
        services.dataset_import(folder=dataset_root / "uploads" / "old")
    with pytest.raises(ValidationError, match="DATASET_UPLOAD_ROOT itself"):
        services.dataset_import(folder=upload_root)


def _read_only(monkeypatch):
    """Make creating the unpacking folder fail as on docker compose's read-only /datasets mount (even as root)."""
    import errno

    from backend.api.services import uploads as upload_service

    def refuse(*args, dir=None, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(dir))

    monkeypatch.setattr(upload_service.tempfile, "mkdtemp", refuse)


def test_a_read_only_upload_root_is_a_clear_error_and_nothing_is_stored(dataset_root, tmp_path, monkeypatch):
    _read_only(monkeypatch)
    with pytest.raises(services.DatasetUploadFailed) as raised:
        services.dataset_import_zip(archive=zipped(write_dataset(tmp_path / "src")), name="Irises")
    message = str(raised.value)
    assert "DATASET_UPLOAD_ROOT" in message and "Read-only file system" in message and "Nothing was stored" in message
    assert not Dataset.objects.exists() and uploads(dataset_root) == []


def test_an_upload_root_that_cannot_be_created_is_a_clear_error(dataset_root, tmp_path, settings):
    (tmp_path / "a-file").write_text("not a folder")
    settings.DATASET_UPLOAD_ROOT = tmp_path / "a-file" / "uploads"
    with pytest.raises(services.DatasetUploadFailed, match="could not unpack the archive into DATASET_UPLOAD_ROOT"):
        services.dataset_import_zip(archive=zipped(write_dataset(tmp_path / "src")), name="Irises")
    assert not Dataset.objects.exists()


def test_a_disk_filling_up_while_unpacking_leaves_no_half_written_folder(upload_root, tmp_path, monkeypatch):
    import errno

    real_extract = importing.extract_zip

    def extract_then_fill_up(archive, layout, folder, **kwargs):
        real_extract(archive, layout, folder, **kwargs)  # some files are written...
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(importing, "extract_zip", extract_then_fill_up)
    with pytest.raises(services.DatasetUploadFailed, match="No space left on device"):
        services.dataset_import_zip(archive=zipped(write_dataset(tmp_path / "src")), name="Irises")
    assert list(upload_root.iterdir()) == [] and not Dataset.objects.exists()


def test_the_admin_page_shows_a_read_only_upload_root_as_an_error_not_a_500(
    admin_client, dataset_root, tmp_path, monkeypatch
):
    _read_only(monkeypatch)
    archive = zipped(write_dataset(tmp_path / "src"))
    archive.name = "irises.zip"
    response = admin_client.post("/api/admin/api/dataset/import/", form(archive=archive))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Nothing was imported" in body and "The server could not unpack the archive" in body
    assert "Read-only file system" in body
    assert not Dataset.objects.exists()


def test_the_admin_page_shows_a_folder_it_cannot_read_as_an_error_not_a_500(admin_client, dataset_root, monkeypatch):
    import errno

    write_dataset(dataset_root / "locked")

    def refuse(folder, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(folder / "metadata.csv"))

    monkeypatch.setattr(importing, "plan_import", refuse)
    response = admin_client.post("/api/admin/api/dataset/import/", form(folder="locked"))
    body = response.content.decode()
    assert response.status_code == 200 and "The server could not read the folder: Permission denied" in body
    assert not Dataset.objects.exists()


# --- Receiving the upload: spooled to FILE_UPLOAD_TEMP_DIR, whose failures are shown, not a 500 ------------


def test_an_upload_folder_that_cannot_be_written_is_shown_on_the_form(admin_client, dataset_root, tmp_path, settings):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 100  # spool even this small archive to disk
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "no-such-folder")
    archive = zipped(write_dataset(tmp_path / "src"))
    archive.name = "irises.zip"
    response = admin_client.post("/api/admin/api/dataset/import/", form(archive=archive))
    body = response.content.decode()
    assert response.status_code == 200
    assert "The server could not receive the uploaded file" in body and "irises.zip" in body
    assert "FILE_UPLOAD_TEMP_DIR" in body and "no-such-folder" in body
    assert "Upload a zip archive or name a folder" not in body  # the real reason only
    assert not Dataset.objects.exists()


def test_large_uploads_are_spooled_to_the_upload_folder(admin_client, dataset_root, tmp_path, settings, monkeypatch):
    from django.core.files.uploadedfile import TemporaryUploadedFile

    spool = tmp_path / "spool"
    spool.mkdir()
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 100
    settings.FILE_UPLOAD_TEMP_DIR = str(spool)
    seen = []
    real_import = services.dataset_import_zip

    def record(*, archive, **options):
        seen.append((type(archive), archive.temporary_file_path()))
        return real_import(archive=archive, **options)

    monkeypatch.setattr(services, "dataset_import_zip", record)
    archive = zipped(write_dataset(tmp_path / "src"))
    archive.name = "irises.zip"
    response = admin_client.post("/api/admin/api/dataset/import/", form(archive=archive))
    assert "3 added" in response.content.decode()
    ((kind, path),) = seen
    assert kind is TemporaryUploadedFile and path.startswith(str(spool))
    assert list(spool.iterdir()) == []  # removed once the request is over


def test_a_disk_filling_up_while_an_upload_arrives_skips_the_file_and_says_why(tmp_path, settings, rf):
    import errno

    from django.core.files.uploadhandler import SkipFile

    from backend.api.upload_handlers import SpoolingUploadHandler, upload_failure

    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    request = rf.post("/")
    handler = SpoolingUploadHandler(request)
    handler.new_file("archive", "irises.zip", "application/zip", None)
    spooled = handler.file.temporary_file_path()

    def full(data):
        raise OSError(errno.ENOSPC, "No space left on device")

    handler.file.file.write = full  # the spooled file on disk
    with pytest.raises(SkipFile):
        handler.receive_data_chunk(b"PK...", 0)
    assert not hasattr(handler, "file") and not (tmp_path / spooled).exists()
    assert "irises.zip: No space left on device" in upload_failure(request)
