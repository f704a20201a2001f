"""Django admin: every page renders, none does more queries with more rows, pictures, export, restore, edits."""

import csv
import io

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from PIL import Image as PILImage

from backend.api import exporting, services, strokes
from backend.api.models import Annotation, AnnotationRevision, Assignment, Dataset, Role

from .conftest import brush


@pytest.fixture
def boss(make_user):
    user = make_user(Role.ADMIN)
    user.is_superuser = True
    user.save()
    return user


@pytest.fixture
def admin_client(client, boss):
    client.force_login(boss)
    return client


def annotate(image, annotator, strokes_=None, status="draft", label=None, version=0):
    annotation, _ = services.annotation_save(
        image=image,
        annotator=annotator,
        content=services.AnnotationContent(
            [brush([(10, 10), (30, 20)], width=8)] if strokes_ is None else strokes_, label, "", status
        ),
        base_version=version,
    )
    return annotation


def add_work(dataset, make_user, annotators):
    """Give the dataset work by n more annotators: a draft and a revision each, and a skip."""
    images = list(dataset.images.order_by("position"))
    for _ in range(annotators):
        user = make_user(Role.ANNOTATOR)
        first = annotate(images[0], user)
        annotate(images[0], user, strokes_=[brush([(5, 5)])], version=first.version)  # undo: keeps a revision
        services.queue_skip(image=images[1], annotator=user, reason="blurred")


PAGES = [
    "/api/admin/auth/user/",
    "/api/admin/api/dataset/",
    "/api/admin/api/image/",
    "/api/admin/api/annotation/",
    "/api/admin/api/annotationrevision/",
    "/api/admin/api/assignment/",
    "/api/admin/api/annotatorprogress/",
]


def queries(client, url):
    client.get(url)  # warm: content types and the like are cached after the first request
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(context)


@pytest.mark.parametrize("url", PAGES)
def test_admin_lists_take_as_many_queries_for_many_rows_as_for_few(url, admin_client, demo_dataset, make_user):
    add_work(demo_dataset, make_user, 1)
    few = queries(admin_client, url)
    add_work(demo_dataset, make_user, 6)
    assert queries(admin_client, url) == few


def test_an_annotations_page_with_its_revisions_takes_a_fixed_number_of_queries(admin_client, demo_dataset, make_user):
    user = make_user(Role.ANNOTATOR)
    image = demo_dataset.images.first()
    annotation = annotate(image, user)
    annotation = annotate(image, user, strokes_=[brush([(5, 5)])], version=annotation.version)
    url = f"/api/admin/api/annotation/{annotation.pk}/change/"
    few = queries(admin_client, url)
    for _ in range(5):
        annotation = annotate(image, user, strokes_=[], version=annotation.version)
        annotation = annotate(image, user, strokes_=[brush([(5, 5)])], version=annotation.version)
    assert AnnotationRevision.objects.count() > 5
    assert queries(admin_client, url) == few


def test_the_dataset_page_shows_everyones_progress(admin_client, demo_dataset, make_user):
    add_work(demo_dataset, make_user, 2)
    body = admin_client.get(f"/api/admin/api/dataset/{demo_dataset.pk}/change/").content.decode()
    assert "Progress" in body and "annotator" in body
    assert body.count("<td>1</td>") >= 2  # each of the two skipped one image


def test_editing_a_dataset_sets_its_choices_targets_and_access(admin_client, demo_dataset, make_user):
    chosen = make_user(Role.ANNOTATOR)
    url = f"/api/admin/api/dataset/{demo_dataset.pk}/change/"
    form = {
        "name": "Renamed",
        "slug": demo_dataset.slug,
        "description": "",
        "question": "Real or fake?",
        "choices_text": "real, fake, unsure",
        "require_choice": "on",
        "require_mask": "on",
        "annotators_per_image": "3",
        "images_per_annotator": "",
        "access": "chosen",
        "annotators": [chosen.pk],
        "order": "file",
        "lease_minutes": "45",
    }
    response = admin_client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    demo_dataset.refresh_from_db()
    assert demo_dataset.choices == ["real", "fake", "unsure"]
    assert (demo_dataset.annotators_per_image, demo_dataset.order, demo_dataset.lease_minutes) == (3, "file", 45)
    assert list(demo_dataset.annotators.all()) == [chosen]
    too_many = admin_client.post(url, {**form, "choices_text": ",".join(str(i) for i in range(10))})
    assert "at most 9 choices" in too_many.content.decode()


def test_image_thumbnails_and_mask_overlays_are_pictures(admin_client, demo_dataset, make_user):
    image = demo_dataset.images.first()
    annotation = annotate(image, make_user(Role.ANNOTATOR), strokes_=[brush([(0, 0), (64, 48)], width=20)])
    thumbnail = admin_client.get(f"/api/admin/api/image/{image.pk}/thumbnail/")
    assert thumbnail["Content-Type"] == "image/jpeg" and "private" in thumbnail["Cache-Control"]
    assert PILImage.open(io.BytesIO(thumbnail.content)).size == (64, 48)  # never enlarged
    overlay = admin_client.get(f"/api/admin/api/annotation/{annotation.pk}/overlay/?size=64")
    picture = np.asarray(PILImage.open(io.BytesIO(overlay.content)).convert("RGB")).astype(int)
    mask = strokes.rasterize(annotation.strokes, image.width, image.height)
    reddish = picture[..., 0] - picture[..., 1] > 60
    assert reddish[mask].mean() > 0.9 and reddish[~mask].mean() < 0.1
    again = admin_client.get(
        f"/api/admin/api/annotation/{annotation.pk}/overlay/?size=64", HTTP_IF_NONE_MATCH=overlay["ETag"]
    )
    assert again.status_code == 304


def test_a_missing_image_file_gets_a_placeholder_not_an_error(admin_client, demo_dataset, dataset_root):
    image = demo_dataset.images.first()
    (dataset_root / "demo" / image.path).unlink()
    response = admin_client.get(f"/api/admin/api/image/{image.pk}/thumbnail/")
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    # Not cached: once the file is back, the next page shows it.
    assert "no-store" in response["Cache-Control"] and not response.has_header("ETag")


def test_pictures_are_for_admins_only(client, make_user, demo_dataset):
    client.force_login(make_user(Role.RESEARCHER))
    response = client.get(f"/api/admin/api/image/{demo_dataset.images.first().pk}/thumbnail/")
    assert response.status_code == 302  # to the admin's sign-in page


def test_the_dataset_list_counts_images_complete_annotations_submitted_and_annotators(
    admin_client, demo_dataset, make_user
):
    demo_dataset.annotators_per_image = 2
    demo_dataset.save()
    first, second, _ = demo_dataset.images.order_by("position")
    for image in (first, first, second):
        annotate(image, make_user(Role.ANNOTATOR), status="submitted", label="real")
    annotate(second, make_user(Role.ANNOTATOR, is_test=True), status="submitted", label="real")
    page = admin_client.get("/api/admin/api/dataset/").content.decode()
    # One image has its two annotations; three annotations of six are submitted and three annotators
    # have started: the test user's work is left out of both, as out of the dataset's progress.
    assert (
        'field-images_complete">1 / 3<' in page
        and 'field-annotations_submitted">3 / 6<' in page
        and 'field-annotators_started">3<' in page
    )


def test_the_csv_export_has_one_row_per_selected_annotation(admin_client, demo_dataset, make_user):
    tester = make_user(Role.ANNOTATOR, is_test=True)
    first, second = demo_dataset.images.order_by("position")[:2]
    kept = annotate(first, tester, status="submitted", label="real")
    annotate(second, tester)
    response = admin_client.post("/api/admin/api/annotation/", {"action": "export_csv", "_selected_action": [kept.pk]})
    assert response["Content-Disposition"] == 'attachment; filename="annotations.csv"'
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 1
    row = rows[0]
    assert (row["annotation_id"], row["label"], row["status"], row["is_test"]) == (
        str(kept.pk),
        "real",
        "submitted",
        "true",
    )
    assert (row["image_id"], row["file_name"], row["width"], row["height"]) == (str(first.pk), "a.png", "64", "48")
    assert row["mask_rle"] == kept.mask_rle and int(row["mask_area"]) == kept.mask_area > 0


def test_the_csv_export_is_the_research_exports_csv_with_the_masks(admin_client, demo_dataset, make_user):
    annotation = annotate(demo_dataset.images.first(), make_user(Role.ANNOTATOR), status="submitted", label="fake")
    response = admin_client.post(
        "/api/admin/api/annotation/", {"action": "export_csv", "_selected_action": [annotation.pk]}
    )
    header = next(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    research = admin_client.get(f"/api/datasets/{demo_dataset.pk}/export/?format=csv")
    expected = next(csv.reader(io.StringIO(b"".join(research.streaming_content).decode())))
    metadata = len(expected) - len(exporting.CSV_COLUMNS)
    assert header == expected[: len(exporting.CSV_COLUMNS)] + list(exporting.MASK_COLUMNS) + expected[-metadata:]


def test_the_csv_export_keeps_typed_formulas_as_text_and_the_rle_intact(admin_client, demo_dataset, make_user):
    annotation = annotate(demo_dataset.images.first(), make_user(Role.ANNOTATOR))
    annotation.text = "=1+1"
    annotation.mask_rle = "=0" + annotation.mask_rle  # an RLE may start with '=' or '@': it must stay exact
    annotation.save(update_fields=["text", "mask_rle"])
    response = admin_client.post(
        "/api/admin/api/annotation/", {"action": "export_csv", "_selected_action": [annotation.pk]}
    )
    (row,) = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert row["text"] == "'=1+1"
    assert row["mask_rle"] == annotation.mask_rle


@pytest.mark.parametrize(
    "query, expected",
    [("status__exact=submitted", 1), ("label=fake", 0), ("test_user=yes", 1), ("test_user=no", 1)],
)
def test_the_annotation_list_filters(query, expected, admin_client, demo_dataset, make_user):
    first, second = demo_dataset.images.order_by("position")[:2]
    annotate(first, make_user(Role.ANNOTATOR, is_test=True), status="submitted", label="real")
    annotate(second, make_user(Role.ANNOTATOR))
    response = admin_client.get(f"/api/admin/api/annotation/?{query}")
    assert response.context["cl"].result_count == expected


def test_restoring_from_an_annotations_history_asks_first_then_restores(admin_client, demo_dataset, make_user):
    user = make_user(Role.ANNOTATOR)
    image = demo_dataset.images.first()
    original = [brush([(10, 10)], width=9)]
    annotation = annotate(image, user, strokes_=original)
    annotate(image, user, strokes_=[], version=annotation.version)  # cleared: keeps version 1
    revision = AnnotationRevision.objects.get()
    page = admin_client.get(f"/api/admin/api/annotation/{annotation.pk}/change/").content.decode()
    assert f"/api/admin/api/annotationrevision/{revision.pk}/restore/" in page
    confirm = admin_client.get(f"/api/admin/api/annotationrevision/{revision.pk}/restore/")
    assert "Restore version 1" in confirm.content.decode()
    assert Annotation.objects.get().strokes == []  # asking changes nothing
    done = admin_client.post(f"/api/admin/api/annotationrevision/{revision.pk}/restore/", follow=True)
    assert "Restored version 1; the annotation is now version 3" in done.content.decode()
    assert Annotation.objects.get().strokes == original


def test_making_a_user_a_test_user_in_admin_recounts_the_targets(admin_client, make_dataset, make_user):
    dataset = make_dataset(2, annotators_per_image=1)
    user = make_user(Role.ANNOTATOR)
    image = services.queue_next(dataset=dataset, annotator=user).image
    assert dataset.images.get(pk=image.pk).reserved_count == 1
    admin_client.post("/api/admin/auth/user/", {"action": "make_test_users", "_selected_action": [user.pk]})
    assert dataset.images.get(pk=image.pk).reserved_count == 0


def test_deleting_a_skip_in_admin_gives_the_image_back(admin_client, make_dataset, make_user):
    dataset = make_dataset(1, annotators_per_image=1)
    user = make_user(Role.ANNOTATOR)
    only = dataset.images.get()
    services.queue_skip(image=only, annotator=user, reason="blurred")
    assert services.queue_next(dataset=dataset, annotator=user).image is None
    skip = Assignment.objects.get()
    admin_client.post(f"/api/admin/api/assignment/{skip.pk}/delete/", {"post": "yes"})
    assert services.queue_next(dataset=dataset, annotator=user).image == only


def test_the_dataset_list_links_to_the_import_page(admin_client, db):
    assert "/api/admin/api/dataset/import/" in admin_client.get("/api/admin/api/dataset/").content.decode()
    assert Dataset.objects.count() == 0


# --- Free text is shown as text -------------------------------------------------------------

HOSTILE = '<img src=x onerror="window.__xss=1"><script>window.__xss=1</script>"><svg onload=window.__xss=1>'


def test_admin_pages_show_html_in_free_text_escaped(admin_client, demo_dataset, make_user):
    # What annotators type (text, skip reason, their browser's user agent) is shown, never run.
    image, other = demo_dataset.images.order_by("position")[:2]
    annotator = make_user(Role.ANNOTATOR)
    annotation, _ = services.annotation_save(
        image=image,
        annotator=annotator,
        content=services.AnnotationContent([brush([(3, 3)])], None, HOSTILE, "draft"),
        base_version=0,
        client={"user_agent": HOSTILE},
    )
    services.annotation_save(  # replacing the text keeps the hostile one as a revision
        image=image,
        annotator=annotator,
        content=services.AnnotationContent([brush([(3, 3)])], None, "", "draft"),
        base_version=annotation.version,
    )
    services.queue_skip(image=other, annotator=annotator, reason=HOSTILE)
    revision = AnnotationRevision.objects.get(annotation=annotation)
    pages = [  # each shows the text, the user agent or the reason
        f"/api/admin/api/annotation/{annotation.pk}/change/",
        f"/api/admin/api/annotationrevision/{revision.pk}/change/",
        f"/api/admin/api/annotationrevision/{revision.pk}/restore/",
        "/api/admin/api/assignment/",
        f"/api/admin/api/assignment/{Assignment.objects.get(image=other).pk}/change/",
    ]
    for url in pages:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        page = response.content.decode()
        assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in page, f"{url} does not show the text"
        for raw in ("<script>window.__xss", "<img src=x", "<svg onload"):
            assert raw not in page, f"{url} shows {raw!r} as markup"


# --- A user's role: one choice on their page, setting their group or staff flag ------------------------


def user_form(user, **changes):
    """Return the POST data of a user's change page as it stands, with changes (None leaves a field out)."""
    data = {
        "username": user.username,
        "first_name": "",
        "last_name": "",
        "email": user.email,
        "is_active": "on" if user.is_active else None,
        "groups": [group.pk for group in user.groups.exclude(name__in=[Role.ANNOTATOR, Role.RESEARCHER])],
        "user_permissions": [],
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        "profile-TOTAL_FORMS": "1",
        "profile-INITIAL_FORMS": "1",
        "profile-MIN_NUM_FORMS": "0",
        "profile-MAX_NUM_FORMS": "1",
        "profile-0-id": str(user.profile.pk),
        "profile-0-user": str(user.pk),
        **changes,
    }
    return {name: value for name, value in data.items() if value is not None}


def stored_role(user):
    from django.contrib.auth.models import User

    user = User.objects.get(pk=user.pk)
    roles = {name for name in user.groups.values_list("name", flat=True) if name in (Role.ANNOTATOR, Role.RESEARCHER)}
    return user.is_staff, roles


@pytest.mark.parametrize(
    "before, chosen, expected",
    [
        (Role.ANNOTATOR, "researcher", (False, {"researcher"})),
        (Role.ANNOTATOR, "admin", (True, set())),
        (Role.ADMIN, "annotator", (False, {"annotator"})),
        (Role.RESEARCHER, "", (False, set())),
    ],
    ids=["annotator to researcher", "annotator to admin", "admin to annotator", "researcher to none"],
)
def test_the_role_chosen_on_a_users_page_sets_their_group_and_staff_flag(
    before, chosen, expected, admin_client, make_user
):
    user = make_user(before)
    response = admin_client.post(f"/api/admin/auth/user/{user.pk}/change/", user_form(user, role=chosen))
    assert response.status_code == 302, response.content.decode()[:3000]
    assert stored_role(user) == expected


def test_a_users_page_shows_their_role_and_no_staff_box(admin_client, make_user):
    user = make_user(Role.RESEARCHER)
    user.is_active = False  # an inactive user keeps the role they had
    user.save()
    form = admin_client.get(f"/api/admin/auth/user/{user.pk}/change/").context["adminform"].form
    assert form["role"].value() == "researcher"
    assert "is_staff" not in form.fields
    assert not form.fields["groups"].queryset.filter(name__in=[Role.ANNOTATOR, Role.RESEARCHER]).exists()
    admin_client.post(f"/api/admin/auth/user/{user.pk}/change/", user_form(user, role="researcher"))
    assert stored_role(user) == (False, {"researcher"})


def test_changing_the_role_keeps_the_users_other_groups(admin_client, make_user):
    from django.contrib.auth.models import Group

    reviewers = Group.objects.create(name="reviewers")
    user = make_user(Role.ANNOTATOR)
    user.groups.add(reviewers)
    admin_client.post(f"/api/admin/auth/user/{user.pk}/change/", user_form(user, role="researcher"))
    assert set(user.groups.values_list("name", flat=True)) == {"researcher", "reviewers"}


def test_a_user_added_in_admin_gets_the_chosen_role_and_a_profile(admin_client):
    from django.contrib.auth.models import User

    page = admin_client.get("/api/admin/auth/user/add/")
    assert page.context["adminform"].form["role"].value() == "annotator"  # what most new accounts are
    response = admin_client.post(
        "/api/admin/auth/user/add/",
        {
            "username": "newcomer",
            "usable_password": "true",
            "password1": "a long passphrase 4 irises",
            "password2": "a long passphrase 4 irises",
            "role": "researcher",
            "profile-TOTAL_FORMS": "1",
            "profile-INITIAL_FORMS": "0",
            "profile-MIN_NUM_FORMS": "0",
            "profile-MAX_NUM_FORMS": "1",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    user = User.objects.get(username="newcomer")
    assert stored_role(user) == (False, {"researcher"}) and user.profile.is_test is False


def test_ticking_test_user_on_a_users_page_saves_and_recounts_the_targets(admin_client, make_dataset, make_user):
    dataset = make_dataset(2, annotators_per_image=1)
    user = make_user(Role.ANNOTATOR)
    image = services.queue_next(dataset=dataset, annotator=user).image
    form = user_form(user, role="annotator", **{"profile-0-is_test": "on"})
    response = admin_client.post(f"/api/admin/auth/user/{user.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:3000]  # it was a server error
    user.profile.refresh_from_db()
    assert user.profile.is_test and dataset.images.get(pk=image.pk).reserved_count == 0


# --- Studies -----------------------------------------------------------------------------------


def test_a_study_file_is_imported_from_admin_and_its_problems_named(admin_client, study_datasets):
    from backend.api.models import Study

    from .study_fixtures import study_text

    response = admin_client.post("/api/admin/api/study/import/", {"text": study_text(status="running")})
    assert response.status_code == 200
    assert "status: must be one of draft, open, paused, closed" in response.content.decode()
    assert Study.objects.count() == 0
    response = admin_client.post("/api/admin/api/study/import/", {"text": study_text()})
    study = Study.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/api/admin/api/study/{study.pk}/change/"


def test_a_study_s_page_shows_its_protocol_and_edits_it_as_its_study_file(admin_client, study):
    page = admin_client.get(f"/api/admin/api/study/{study.pk}/change/").content.decode()
    assert "Edit as a study file" in page and "/s/iris-test/" in page and "practice" in page
    edit = admin_client.get(f"/api/admin/api/study/{study.pk}/study-file/").content.decode()
    assert "slug: iris-test" in edit
    from .study_fixtures import study_text

    admin_client.post(f"/api/admin/api/study/{study.pk}/study-file/", {"text": study_text(title="Renamed")})
    study.refresh_from_db()
    assert study.title == "Renamed"
    download = admin_client.get(f"/api/admin/api/study/{study.pk}/download/")
    assert download["Content-Type"] == "application/yaml" and b"title: Renamed" in download.content


def test_studies_are_opened_paused_and_closed_by_an_action(admin_client, study):
    admin_client.post("/api/admin/api/study/", {"action": "pause_studies", "_selected_action": [study.pk]})
    study.refresh_from_db()
    assert study.status == "paused"


def test_participants_are_excluded_and_their_data_deleted_after_a_confirmation(admin_client, study):
    from backend.api.models import Participant

    participant = services.participant_enrol(slug="iris-test", params={}).participant
    changelist = "/api/admin/api/participant/"
    assert participant.pseudonym in admin_client.get(changelist).content.decode()
    admin_client.post(changelist, {"action": "exclude_participants", "_selected_action": [participant.pk]})
    assert Participant.objects.get().excluded
    asked = admin_client.post(changelist, {"action": "delete_data", "_selected_action": [participant.pk]})
    assert "Delete these participants" in asked.content.decode() and Participant.objects.count() == 1
    admin_client.post(changelist, {"action": "delete_data", "_selected_action": [participant.pk], "confirmed": "yes"})
    assert Participant.objects.count() == 0


def test_the_studies_and_participants_lists_take_as_many_queries_for_many_rows_as_for_few(admin_client, study):
    services.participant_enrol(slug="iris-test", params={"PROLIFIC_PID": "a"})
    few = [queries(admin_client, url) for url in ("/api/admin/api/study/", "/api/admin/api/participant/")]
    for n in range(5):
        services.participant_enrol(slug="iris-test", params={"PROLIFIC_PID": f"b{n}"})
    from .study_fixtures import study_text

    services.study_import(text=study_text(slug="second"))
    assert [queries(admin_client, url) for url in ("/api/admin/api/study/", "/api/admin/api/participant/")] == few


def test_an_annotations_page_shows_the_mask_and_a_summary_with_the_json_folded(admin_client, demo_dataset, make_user):
    image = demo_dataset.images.first()
    drawn = [
        brush([(10, 10), (30, 20)], width=8),
        {**brush([(12, 12), (20, 20), (25, 25)], width=4), "tool": "eraser"},
    ]
    drawn[1]["points"] = [[x, y, 65_000 + t, p] for x, y, t, p in drawn[1]["points"]]  # a minute after the first
    annotation = annotate(image, make_user(Role.ANNOTATOR), strokes_=drawn)
    page = admin_client.get(f"/api/admin/api/annotation/{annotation.pk}/change/").content.decode()
    assert reverse("admin:api_annotation_overlay", args=[annotation.pk]) in page  # the picture
    assert "2 strokes (5 points): 1 brush, 1 eraser; widths 4–8 px; drawn over 1m 05s" in page
    assert "<details><summary>2 strokes" in page  # the JSON folded under its summary
    assert page.index("<details><summary>2 strokes") < page.index("&quot;eraser&quot;")


@pytest.mark.parametrize(
    "strokes_, summary",
    [
        ([], "no strokes"),
        ([brush([(1, 1)], width=3)], "1 stroke (1 points): 1 brush; width 3 px; drawn over 0m 00s"),
    ],
)
def test_the_strokes_summary_reads_in_a_line(strokes_, summary):
    from backend.api.admin.display import strokes_summary

    assert strokes_summary(strokes_) == summary
