"""The original EyeTagger's import from Django admin: the form, its report, and the imported rows shown as such."""

import gzip

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backend.api.models import Annotation, Dataset, OriginalAnnotation, Role

from . import original_fixtures as fx
from .test_original_import import DEFAULT_HASHERS, run

IMPORT = "/api/admin/api/originalannotation/import/"


@pytest.fixture
def deployment(tmp_path, settings):
    root = tmp_path / "datasets"
    settings.DATASET_ROOT = root
    settings.PASSWORD_HASHERS = DEFAULT_HASHERS
    return fx.write_deployment(fx.corner_cases(), root / "original")


@pytest.fixture
def superuser_client(client, make_user):
    boss = make_user(Role.ADMIN, username="boss")
    boss.is_superuser = True
    boss.save()
    client.force_login(boss)
    return client


def test_the_form_dry_runs_then_imports_an_uploaded_backup_and_shows_the_report(superuser_client, deployment):
    _, dump = deployment
    form = {"dataset_dir": "original/dataset", "name": "From the original", "choices": "real, fake", "dry_run": "on"}
    upload = SimpleUploadedFile("backup.sql.gz", dump.read_bytes())
    answer = superuser_client.post(IMPORT, {**form, "dump": upload})
    assert answer.status_code == 200, answer.content[:2000]
    page = answer.content.decode()
    assert "Dry run: nothing was written" in page and "Would create" in page
    assert "Annotations: 9 imported" in page and "image files missing" in page and "gone.png" in page
    assert not Dataset.objects.exists() and not OriginalAnnotation.objects.exists()
    del form["dry_run"]
    answer = superuser_client.post(IMPORT, {**form, "dump": SimpleUploadedFile("backup.sql.gz", dump.read_bytes())})
    page = answer.content.decode()
    assert "Created" in page and "From the original" in page and "Dry run" not in page
    assert OriginalAnnotation.objects.count() == 9 and User.objects.filter(username="alice").exists()


def test_a_backup_on_the_server_is_named_below_dataset_root_only(superuser_client, deployment):
    _, dump = deployment
    answer = superuser_client.post(IMPORT, {"dataset_dir": "original/dataset", "dump_path": f"original/{dump.name}"})
    assert "Annotations: 9 imported" in answer.content.decode()
    answer = superuser_client.post(IMPORT, {"dataset_dir": "original/dataset", "dump_path": "../../etc/passwd"})
    assert "leads outside DATASET_ROOT" in answer.content.decode()


@pytest.mark.parametrize(
    "form, message",
    [
        ({"dataset_dir": "original/dataset"}, "Upload a backup, name one on the server, or give the database"),
        ({"dataset_dir": "original/dataset", "dump_path": "original/nope.sql"}, "does not exist"),
        ({"dataset_dir": "nowhere", "dump_path": "original/BACKUP"}, "is not a folder"),
        (
            {"dataset_dir": "original/dataset", "dump_path": "original/BACKUP", "map_users": "alice"},
            "Write each as OLD=NEW",
        ),
        (
            {"dataset_dir": "original/dataset", "database_url": "postgres://x:secret@127.0.0.1:1/eyetagger"},
            "cannot connect",
        ),
    ],
)
def test_what_cannot_be_imported_is_an_error_on_the_form_and_nothing_is_stored(
    superuser_client, deployment, form, message
):
    _, dump = deployment
    form = {key: value.replace("BACKUP", dump.name) for key, value in form.items()}
    answer = superuser_client.post(IMPORT, form)
    assert answer.status_code == 200 and message in answer.content.decode()
    assert not Dataset.objects.exists()


def test_a_damaged_backup_names_its_row_on_the_form(superuser_client, deployment):
    _, dump = deployment
    data = gzip.decompress(dump.read_bytes()).replace(b"iVBORw0KGgo", b"iVBORw0KGgX", 1)
    answer = superuser_client.post(
        IMPORT, {"dataset_dir": "original/dataset", "dump": SimpleUploadedFile("b.sql.gz", gzip.compress(data))}
    )
    page = answer.content.decode()
    assert (
        "Nothing was imported" in page
        and "api_annotation id 7 (dump line 263)" in page
        and "--skip-annotation 7" in page
    )
    assert not Dataset.objects.exists()


def test_only_superusers_import(client, make_user, deployment):
    client.force_login(make_user(Role.ADMIN))
    assert client.get(IMPORT).status_code == 403


def test_imported_annotations_are_shown_as_such_and_their_original_rows_kept(superuser_client, deployment):
    dataset_dir, dump = deployment
    run(dump, dataset_dir)
    seven = Annotation.objects.get(original__original_id=7)
    page = superuser_client.get(f"/api/admin/api/annotation/{seven.pk}/change/").content.decode()
    assert (
        "api_annotation 7</a>: imported from the original EyeTagger; strokes SVG strokes, corrected to the PNG" in page
    )
    listed = superuser_client.get("/api/admin/api/annotation/?original=yes").context["cl"].result_count
    assert (
        listed == 9 and superuser_client.get("/api/admin/api/annotation/?original=no").context["cl"].result_count == 0
    )
    page = superuser_client.get(f"/api/admin/api/originalannotation/{seven.original.pk}/change/").content.decode()
    assert 'src="data:image/png;base64,iVBORw0KGgo' in page and "enter text here" in page
    changelist = superuser_client.get("/api/admin/api/originalannotation/")
    assert "Import from the original EyeTagger" in changelist.content.decode()
    assert superuser_client.get("/api/admin/api/originalaccount/").status_code == 200


def test_the_original_rows_list_takes_a_fixed_number_of_queries(superuser_client, deployment, tmp_path, settings):
    dataset_dir, dump = deployment
    url = "/api/admin/api/originalannotation/"
    superuser_client.get(url)
    with CaptureQueriesContext(connection) as empty:
        superuser_client.get(url)
    run(dump, dataset_dir)
    with CaptureQueriesContext(connection) as full:
        assert superuser_client.get(url).status_code == 200
    assert len(full) <= len(empty) + 2  # the filter's choices, the count: not a query a row
