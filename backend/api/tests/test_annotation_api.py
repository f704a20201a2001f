"""Saving and reading annotations: the strokes document, versions, conflicts, limits and visibility."""

import json

import numpy as np
import pytest
from pycocotools import mask as coco_mask

from backend.api import strokes as strokes_mod
from backend.api.models import Annotation, AnnotationRevision, Image, Role

from .conftest import brush, document


def put(client, image, body, **extra):
    return client.put(f"/api/images/{image.pk}/annotation/", body, format="json", **extra)


@pytest.mark.parametrize("prefer", ["return=minimal", "respond-async, return=minimal", 'RETURN = "minimal"; x=1'])
def test_a_save_that_prefers_a_minimal_answer_gets_it_without_the_strokes(annotator, image, client_for, prefer):
    response = put(client_for(annotator), image, document([brush([(1, 1)])], version=0), HTTP_PREFER=prefer)
    assert response.status_code == 201
    body = response.json()
    assert (body["version"], body["stroke_count"], body["image"]) == (1, 1, image.pk)
    assert "strokes" not in body and "client" not in body
    assert response["Preference-Applied"] == "return=minimal"
    assert "Prefer" in response["Vary"]
    assert Annotation.objects.get().strokes == [brush([(1, 1)])]


@pytest.mark.parametrize("prefer", [None, "return=representation", "handling=lenient"])
def test_a_save_answers_the_whole_annotation_by_default(annotator, image, client_for, prefer):
    extra = {"HTTP_PREFER": prefer} if prefer else {}
    response = put(client_for(annotator), image, document([brush([(1, 1)])], version=0), **extra)
    assert response.json()["strokes"] == [brush([(1, 1)])]
    assert "Preference-Applied" not in response
    assert "Prefer" in response["Vary"]


def test_an_image_without_an_annotation_reads_as_version_0(annotator, image, client_for):
    body = client_for(annotator).get(f"/api/images/{image.pk}/annotation/").json()
    assert (body["id"], body["version"], body["strokes"], body["status"]) == (None, 0, [], "draft")


def test_put_creates_then_updates_bumping_the_version(annotator, image, client_for):
    client = client_for(annotator)
    created = put(client, image, document([brush([(10, 10), (20, 10)])], version=0))
    assert created.status_code == 201
    assert created.json()["version"] == 1
    updated = put(client, image, document([brush([(10, 10), (20, 10)]), brush([(5, 5)])], label="real", version=1))
    assert updated.status_code == 200
    assert (updated.json()["version"], updated.json()["stroke_count"], updated.json()["label"]) == (2, 2, "real")
    stored = client.get(f"/api/images/{image.pk}/annotation/").json()
    assert stored["strokes"][1] == brush([(5, 5)])
    assert stored["version"] == 2


def test_the_stored_mask_is_the_rasterized_strokes(annotator, image, client_for):
    strokes = [brush([(10, 10), (40, 30)], width=6), brush([(20, 20)], width=8, tool="eraser")]
    put(client_for(annotator), image, document(strokes))
    annotation = Annotation.objects.get()
    expected = strokes_mod.rasterize(strokes, image.width, image.height)
    decoded = coco_mask.decode({"size": [image.height, image.width], "counts": annotation.mask_rle.encode()})
    assert (decoded.astype(bool) == expected).all()
    assert annotation.mask_area == expected.sum() > 0


def test_a_stale_version_gets_409_with_the_current_annotation(annotator, image, client_for):
    client = client_for(annotator)
    put(client, image, document([brush([(1, 1)])], version=0))
    put(client, image, document([brush([(1, 1)]), brush([(2, 2)])], version=1))  # another tab, now at v2
    response = put(client, image, document([brush([(9, 9)])], version=1))
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "version_conflict"
    assert body["current"]["version"] == 2 and len(body["current"]["strokes"]) == 2
    assert "stored one is version 2" in body["detail"]
    assert Annotation.objects.get().version == 2


def test_a_new_annotation_from_a_second_tab_conflicts_instead_of_overwriting(annotator, image, client_for):
    client = client_for(annotator)
    put(client, image, document([brush([(1, 1)])], version=0))
    response = put(client, image, document([brush([(30, 30)])], version=0))
    assert response.status_code == 409
    assert Annotation.objects.get().strokes == [brush([(1, 1)])]


def test_repeating_a_save_is_harmless_even_after_it_succeeded(annotator, image, client_for):
    client = client_for(annotator)
    body = document([brush([(1, 1)])], version=0, active_ms=500)
    first, second = put(client, image, body), put(client, image, body)
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["version"] == 1
    assert Annotation.objects.count() == 1 and AnnotationRevision.objects.count() == 0


def test_active_time_only_grows(annotator, image, client_for):
    client = client_for(annotator)
    put(client, image, document([brush([(1, 1)])], version=0, active_ms=5000))
    put(client, image, document([brush([(1, 1)])], version=1, active_ms=3000))  # a late, stale retry
    assert Annotation.objects.get().active_ms == 5000


def test_client_info_and_start_time_are_recorded(annotator, image, client_for):
    client_info = {"user_agent": "Firefox", "device_pixel_ratio": 2.0, "pointer_types": ["pen", "mouse"]}
    put(
        client_for(annotator), image, document([brush([(1, 1)])], started_at="2026-11-25T10:00:00Z", client=client_info)
    )
    annotation = Annotation.objects.get()
    assert annotation.client == client_info
    assert annotation.started_at.isoformat() == "2026-11-25T10:00:00+00:00"


def test_a_start_time_in_the_future_is_refused(annotator, image, client_for):
    response = put(client_for(annotator), image, document([brush([(1, 1)])], started_at="3000-01-01T00:00:00Z"))
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "started_at"
    assert "future" in response.json()["detail"]
    assert not Annotation.objects.exists()


# --- Submitting ------------------------------------------------------------------------


def test_submitting_needs_what_the_dataset_requires(annotator, image, client_for):
    client = client_for(annotator)
    response = put(client, image, document([], status="submitted"))
    assert response.status_code == 400
    assert response.json()["errors"][0] == {
        "field": "status",
        "code": "incomplete",
        "detail": "To submit this image, choose an answer to 'Is this image real or fake?'; draw a mask.",
    }
    assert not Annotation.objects.exists()
    ok = put(client, image, document([brush([(5, 5)])], label="fake", status="submitted"))
    assert ok.status_code == 201
    assert ok.json()["submitted_at"] is not None


def test_a_mask_erased_to_nothing_does_not_count_as_drawn(annotator, image, client_for):
    strokes = [brush([(5, 5)], width=4), brush([(5, 5)], width=10, tool="eraser")]
    response = put(client_for(annotator), image, document(strokes, label="real", status="submitted"))
    assert response.status_code == 400 and "draw a mask" in response.json()["detail"]


def test_a_required_text_must_not_be_blank(annotator, image, client_for, demo_dataset):
    demo_dataset.require_text = True
    demo_dataset.save()
    response = put(
        client_for(annotator), image, document([brush([(5, 5)])], label="real", text="   ", status="submitted")
    )
    assert response.status_code == 400 and "type a justification" in response.json()["detail"]


# --- Bad input: a clear 400 or 413, and nothing stored ---------------------------------

BAD_DOCUMENTS = [
    ("unknown tool", document([{**brush([(1, 1)]), "tool": "spray"}]), "strokes[0].tool"),
    ("far outside", document([brush([(1, 1), (1e6, 1)])]), "strokes[0].points[1]"),
    ("width zero", document([brush([(1, 1)], width=0)]), "strokes[0].width"),
    ("absurd width", document([brush([(1, 1)], width=1e9)]), "strokes[0].width"),
    (
        "decreasing t",
        document([{"tool": "brush", "width": 3, "points": [[1, 1, 5, 0], [2, 2, 4, 0]]}]),
        "strokes[0].points[1]",
    ),
    ("label not a choice", document([brush([(1, 1)])], label="maybe"), "label"),
    ("unknown status", document([brush([(1, 1)])], status="done"), "status"),
    ("strokes missing", {"version": 0}, "strokes"),
    ("version missing", {"strokes": []}, "version"),
    ("negative version", document([], version=-1), "version"),
    ("strokes not a list", {"strokes": "scribble", "version": 0}, "strokes"),
    ("text too long", document([], text="x" * 10_001), "text"),
    ("bad pointer type", document([], client={"pointer_types": ["trackball"]}), "client.pointer_types.0"),
    ("absurd pixel ratio", document([], client={"device_pixel_ratio": 1e9}), "client.device_pixel_ratio"),
]


@pytest.mark.parametrize("case, body, field", BAD_DOCUMENTS, ids=[c[0] for c in BAD_DOCUMENTS])
def test_bad_documents_get_400_naming_the_field_and_store_nothing(case, body, field, annotator, image, client_for):
    response = put(client_for(annotator), image, body)
    assert response.status_code == 400, response.json()
    error = response.json()
    assert error["code"] == "invalid"
    assert error["errors"][0]["field"] == field
    assert field in error["detail"]
    assert not Annotation.objects.exists()


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused_as_invalid_json(constant, annotator, image, client_for):
    raw = f'{{"version": 0, "strokes": [{{"tool": "brush", "width": 3, "points": [[{constant}, 1, 0, 0]]}}]}}'
    response = client_for(annotator).put(f"/api/images/{image.pk}/annotation/", raw, content_type="application/json")
    assert response.status_code == 400
    assert constant.lstrip("-") in response.json()["detail"]
    assert not Annotation.objects.exists()


def test_a_body_that_is_not_json_is_refused(annotator, image, client_for):
    response = client_for(annotator).put(
        f"/api/images/{image.pk}/annotation/", "{oops", content_type="application/json"
    )
    assert response.status_code == 400 and response.json()["code"] == "parse_error"


def test_a_body_nested_too_deeply_is_refused_as_invalid_json(annotator, image, client_for):
    # json raised RecursionError on it, which was a 500.
    raw = "[" * 100_000 + "]" * 100_000
    response = client_for(annotator).put(f"/api/images/{image.pk}/annotation/", raw, content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "parse_error"
    assert "nests arrays or objects too deeply" in response.json()["detail"]


def test_an_oversized_body_gets_413(annotator, image, client_for, settings):
    settings.ANNOTATION_MAX_BODY_BYTES = 1000
    body = document([brush([(1, 1)] * 100)])
    response = put(client_for(annotator), image, body)
    assert response.status_code == 413
    assert "limit is 0.0 MB" in response.json()["detail"] or "ANNOTATION_MAX_BODY_BYTES" in response.json()["detail"]
    assert not Annotation.objects.exists()


def test_a_document_at_every_count_limit_is_stored(annotator, image, client_for, settings):
    # 5,000 strokes holding 250,000 points: a body of several MB, past Django's default
    # DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB), which DRF applies when it reads a JSON body.
    limits = strokes_mod.DEFAULT_LIMITS
    per_stroke = limits.max_points // limits.max_strokes
    stroke = brush([(1 + i % 30, 1 + i // 30) for i in range(per_stroke)], width=1.0)
    client = client_for(annotator)
    # 99 units of ink a stroke, 495,000 in all: more than one save may paint, so it goes in two, the
    # second the whole document again (the PUT paints only the strokes it appends).
    first = json.dumps(document([stroke] * 4_000))
    assert client.put(f"/api/images/{image.pk}/annotation/", first, content_type="application/json").status_code == 201
    body = json.dumps(document([stroke] * limits.max_strokes, version=1))
    assert 2.5 * 1024 * 1024 < len(body) < settings.ANNOTATION_MAX_BODY_BYTES
    response = client.put(f"/api/images/{image.pk}/annotation/", body, content_type="application/json")
    assert response.status_code == 200, response.content[:300]
    assert response.json()["stroke_count"] == limits.max_strokes


def test_a_body_just_past_the_limit_gets_the_parsers_413(annotator, image, client_for, settings):
    body = json.dumps(document(text="x" * settings.ANNOTATION_MAX_BODY_BYTES))
    response = client_for(annotator).put(f"/api/images/{image.pk}/annotation/", body, content_type="application/json")
    assert response.status_code == 413 and response.json()["code"] == "body_too_large"


def test_too_many_strokes_get_400(annotator, image, client_for):
    body = document([brush([(1, 1)])] * (strokes_mod.DEFAULT_LIMITS.max_strokes + 1))
    response = put(client_for(annotator), image, body)
    assert response.status_code == 400 and response.json()["errors"][0]["code"] == "too_many_strokes"


def test_a_wrong_content_type_gets_415(annotator, image, client_for):
    response = client_for(annotator).put(
        f"/api/images/{image.pk}/annotation/", "a=b", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 415


# --- Who may read and write --------------------------------------------------------------


def test_researchers_may_read_but_not_save(researcher, image, client_for):
    client = client_for(researcher)
    assert client.get(f"/api/images/{image.pk}/annotation/").status_code == 200
    response = put(client, image, document([brush([(1, 1)])]))
    assert response.status_code == 403 and "read-only" in response.json()["detail"]


def test_admins_may_annotate(admin_user, image, client_for):
    assert put(client_for(admin_user), image, document([brush([(1, 1)])])).status_code == 201


def test_annotators_see_only_their_own_annotations(make_user, image, client_for):
    alice, bob = make_user(Role.ANNOTATOR), make_user(Role.ANNOTATOR)
    put(client_for(alice), image, document([brush([(1, 1)])]))
    put(client_for(bob), image, document([brush([(2, 2)])]))
    listed = client_for(alice).get("/api/annotations/").json()["results"]
    assert [a["annotator"] for a in listed] == [alice.pk]
    bobs = Annotation.objects.get(annotator=bob)
    assert client_for(alice).get(f"/api/annotations/{bobs.pk}/").status_code == 404


def test_researchers_see_everyones_annotations_with_filters(make_user, researcher, demo_dataset, client_for):
    alice, bob = make_user(Role.ANNOTATOR), make_user(Role.ANNOTATOR, is_test=True)
    first, second = demo_dataset.images.order_by("position")[:2]
    put(client_for(alice), first, document([brush([(1, 1)])], label="real", status="submitted"))
    put(client_for(bob), first, document([brush([(2, 2)])]))
    put(client_for(alice), second, document([brush([(2, 2)])], label="fake"))
    client = client_for(researcher)

    def ids(query):
        return sorted((a["annotator"], a["image"]) for a in client.get(f"/api/annotations/?{query}").json()["results"])

    assert len(ids("")) == 3
    assert ids(f"annotator={bob.pk}") == [(bob.pk, first.pk)]
    assert ids("status=submitted") == [(alice.pk, first.pk)]
    assert ids("status=draft") == [(alice.pk, second.pk), (bob.pk, first.pk)]
    assert ids("status=all") == ids("")
    assert ids("label=fake") == [(alice.pk, second.pk)]
    assert ids(f"image={second.pk}") == [(alice.pk, second.pk)]
    assert ids("is_test=false") == [(alice.pk, first.pk), (alice.pk, second.pk)]
    assert len(ids(f"dataset={demo_dataset.pk}")) == 3
    detail = client.get(f"/api/annotations/{Annotation.objects.get(annotator=bob).pk}/").json()
    assert detail["strokes"] == [brush([(2, 2)])]


def test_the_status_filter_speaks_the_research_endpoints_vocabulary(researcher, client_for, db):
    from backend.api.query_params import STATUSES

    for status in STATUSES:  # the masks, saliency, export and statistics endpoints' values
        assert client_for(researcher).get(f"/api/annotations/?status={status}").status_code == 200, status


def test_an_invalid_filter_value_is_a_400(researcher, client_for, db):
    response = client_for(researcher).get("/api/annotations/?status=finished")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "status"


@pytest.mark.parametrize("name", ["dataset", "image", "annotator"])
@pytest.mark.parametrize("value", ["9" * 25, "1.5", "0", "-3", "1e400"])
def test_an_id_filter_that_is_no_id_is_a_400_naming_it(name, value, researcher, client_for, db):
    # A number beyond a bigint was a 500 on SQLite (OverflowError while binding it).
    response = client_for(researcher).get(f"/api/annotations/?{name}={value}")
    assert response.status_code == 400, response.content[:200]
    assert response.json()["errors"][0]["field"] == name
    assert "id, a whole number from 1 to" in response.json()["detail"]


@pytest.mark.parametrize("value", ["abc", "0", "501", "-1", "1.5", "9" * 30])
def test_a_page_size_out_of_range_is_a_400_naming_it(value, researcher, client_for, db):
    # DRF silently answered pages of 50 (or capped at 500): a client never learned it got fewer rows.
    response = client_for(researcher).get(f"/api/annotations/?page_size={value}")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "page_size"
    assert response.json()["detail"].startswith("page_size must be a whole number from 1 to 500; got ")


def test_a_page_that_is_no_page_is_a_404_naming_the_page(researcher, client_for, db):
    response = client_for(researcher).get("/api/annotations/?page=abc")
    assert response.status_code == 404
    assert response.json()["detail"].startswith("page must be a page number from 1 to the last page; got 'abc'")


@pytest.mark.parametrize("ordering", [",", "id,", ",,-started_at"])
def test_an_ordering_with_empty_fields_keeps_a_stable_order(ordering, make_user, researcher, demo_dataset, client_for):
    # "?ordering=," cleared every order (a 500 here, where warnings are errors; unstable pages in production).
    for _ in range(3):
        annotator = make_user(Role.ANNOTATOR)
        put(client_for(annotator), demo_dataset.images.first(), document([brush([(1, 1)])]))
    response = client_for(researcher).get(f"/api/annotations/?ordering={ordering}&page_size=2")
    assert response.status_code == 200
    second = client_for(researcher).get(f"/api/annotations/?ordering={ordering}&page_size=2&page=2")
    ids = [a["id"] for a in response.json()["results"] + second.json()["results"]]
    assert sorted(ids) == sorted(Annotation.objects.values_list("pk", flat=True))


def test_the_annotation_list_takes_a_fixed_number_of_queries(
    make_user, researcher, demo_dataset, client_for, django_assert_max_num_queries
):
    for _ in range(5):
        annotator = make_user(Role.ANNOTATOR)
        for image in demo_dataset.images.all():
            put(client_for(annotator), image, document([brush([(1, 1)])]))
    client = client_for(researcher)
    with django_assert_max_num_queries(4):
        response = client.get("/api/annotations/")
    assert response.json()["count"] == 15
    assert "strokes" not in response.json()["results"][0]


# --- Revisions ---------------------------------------------------------------------------


def test_adding_strokes_keeps_no_revision_but_undoing_does(annotator, image, client_for):
    client = client_for(annotator)
    one, two = brush([(1, 1)]), brush([(9, 9)])
    put(client, image, document([one], version=0))
    put(client, image, document([one, two], version=1))
    assert AnnotationRevision.objects.count() == 0  # v1 is a prefix of v2: nothing lost
    put(client, image, document([one], version=2))  # undo
    revision = AnnotationRevision.objects.get()
    assert (revision.version, revision.strokes, revision.replaced_by) == (2, [one, two], annotator)


def test_changing_the_answer_keeps_the_old_one(annotator, image, client_for):
    client = client_for(annotator)
    put(client, image, document([], label="real", version=0))
    put(client, image, document([], label="fake", version=1))
    assert AnnotationRevision.objects.get().label == "real"


def test_restoring_a_revision_brings_it_back_as_a_new_version(annotator, admin_user, image, client_for):
    from backend.api import services

    client = client_for(annotator)
    original = [brush([(1, 1)]), brush([(9, 9)])]
    put(client, image, document(original, version=0))
    put(client, image, document([], version=1))  # clear
    revision = AnnotationRevision.objects.get(version=1)
    restored = services.annotation_restore(revision=revision, user=admin_user)
    assert (restored.version, restored.strokes, restored.stroke_count) == (3, original, 2)
    assert restored.mask_area > 0
    cleared = AnnotationRevision.objects.get(version=2)
    assert (cleared.strokes, cleared.reason, cleared.replaced_by) == ([], "restore", admin_user)
    # The annotator's next save must build on the restored version.
    assert put(client, image, document([], version=2)).status_code == 409


def test_admins_restore_from_the_admin_site(annotator, admin_user, image, client_for, client):
    api = client_for(annotator)
    put(api, image, document([brush([(1, 1)])], version=0))
    put(api, image, document([], version=1))
    revision = AnnotationRevision.objects.get()
    admin_user.is_superuser = True
    admin_user.save()
    client.force_login(admin_user)
    response = client.post(
        "/api/admin/api/annotationrevision/", {"action": "restore", "_selected_action": [revision.pk]}, follow=True
    )
    assert response.status_code == 200
    assert "Restored version 1" in response.content.decode()
    assert Annotation.objects.get().strokes == [brush([(1, 1)])]


def test_saved_json_round_trips_exactly(annotator, image, client_for):
    strokes = [
        {
            "tool": "lasso",
            "width": 2.5,
            "points": [[0.1, 0.2, 0.0, 0.3], [30.7, 1.1, 16.0, 1.0], [15.25, 40.0, 33.5, 0.0]],
        }
    ]
    put(client_for(annotator), image, document(strokes))
    raw = client_for(annotator).get(f"/api/images/{image.pk}/annotation/").content
    assert json.loads(raw)["strokes"] == strokes
    assert np.isfinite(np.array(json.loads(raw)["strokes"][0]["points"])).all()


# --- What a save costs -------------------------------------------------------------------


def _token_client(user):
    """Return a client that signs in with an API token, as a fresh user object per request (as in production)."""
    from rest_framework.test import APIClient

    from backend.api.services import api_token_create

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(user=user).key}")
    return client


# Every save of an image handed out by `next`: the caller's token, user and role (one query), the
# image; in the transaction, their progress row (locked, with whether they are a test user) and
# their annotation (locked); after the write, their assignment, the lease and the progress; and
# the transaction's own two statements (a savepoint in tests).
# A draft's lease, just renewed by ``next`` or the save before, is not due again (LEASE_RENEWAL_STEP).
SAVE_QUERIES = [
    ("a new draft", 11),  # + a savepoint around the insert (a concurrent insert is an update)
    ("text typed", 9),
    ("a stroke added", 9),
    ("a stroke redrawn", 10),  # + the revision, copied in the database
    ("the same document again", 8),  # nothing written but the progress
    ("submitted", 11),  # + the image's count of submissions, and the assignment's end
]


def test_a_save_makes_a_fixed_number_of_queries(annotator, demo_dataset, django_assert_num_queries):
    client = _token_client(annotator)
    image = Image.objects.get(pk=client.get(f"/api/datasets/{demo_dataset.pk}/next/").json()["image"]["id"])
    one, two, three = brush([(1, 1), (5, 5)]), brush([(9, 9)]), brush([(20, 20), (30, 25)])
    bodies = [
        document([one, two], version=0),
        document([one, two], text="a", version=1),
        document([one, two, three], text="a", version=2),
        document([one, two, one], text="a", version=3),
        document([one, two, one], text="a", version=4),
        document([one, two, one], text="a", label="real", status="submitted", version=4),
    ]
    for (change, queries), body in zip(SAVE_QUERIES, bodies, strict=True):
        with django_assert_num_queries(queries):
            response = put(client, image, body)
        assert response.status_code in (200, 201), (change, response.json())
    assert Annotation.objects.get().version == 5
    assert AnnotationRevision.objects.count() == 1


def test_unchanged_strokes_keep_their_stored_mask(annotator, image, client_for, monkeypatch):
    client = client_for(annotator)
    strokes = [brush([(10, 10), (40, 30)], width=6)]
    put(client, image, document(strokes, version=0))
    stored = Annotation.objects.values("mask_rle", "mask_area", "stroke_count").get()

    def must_not_rasterize(*args):
        raise AssertionError("the strokes did not change: their mask is stored already")

    monkeypatch.setattr(strokes_mod, "rasterize", must_not_rasterize)
    response = put(client, image, document(strokes, text="typed", label="real", status="submitted", version=1))
    assert response.status_code == 200
    assert Annotation.objects.values("mask_rle", "mask_area", "stroke_count").get() == stored
    assert Annotation.objects.get().strokes == strokes


def test_a_revision_keeps_the_stored_content_exactly(annotator, image, client_for):
    client = client_for(annotator)
    first = [brush([(1.5, 2.25), (30.125, 20.0)], width=3.5)]
    put(client, image, document(first, label="real", text="hello", version=0))
    put(client, image, document([brush([(9, 9)])], label="fake", text="other", version=1))
    revision = AnnotationRevision.objects.get()
    assert (revision.version, revision.strokes, revision.label, revision.text, revision.status) == (
        1,
        first,
        "real",
        "hello",
        "draft",
    )
    assert (revision.reason, revision.replaced_by, revision.annotation) == (
        "overwrite",
        annotator,
        Annotation.objects.get(),
    )
    assert revision.created_at is not None


def test_a_body_past_djangos_own_limit_gets_413_without_an_error_logged(annotator, image, client_for, settings, caplog):
    # Django refused it first (RequestDataTooBig: 400 "for a form; send JSON", and a logged error).
    settings.ANNOTATION_MAX_BODY_BYTES, settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000, 2000
    body = json.dumps(document([brush([(1, 1)] * 300)]))
    assert len(body) > 2000
    response = client_for(annotator).put(f"/api/images/{image.pk}/annotation/", body, content_type="application/json")
    assert response.status_code == 413 and response.json()["code"] == "body_too_large"
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
    assert not Annotation.objects.exists()


def test_a_declared_length_past_the_limit_gets_413_before_the_body_is_read(annotator, image, client_for):
    response = client_for(annotator).put(
        f"/api/images/{image.pk}/annotation/", "{}", content_type="application/json", CONTENT_LENGTH=str(10**12)
    )
    assert response.status_code == 413 and "1000000.0 MB" in response.json()["detail"]


def test_a_chunked_body_without_a_length_gets_411_not_an_empty_document(annotator, image, client_for):
    # Gunicorn passes a chunked body on with no Content-Length; Django then read it as empty.
    body = json.dumps(document([brush([(1, 1)])]))
    response = client_for(annotator).generic(
        "PUT",
        f"/api/images/{image.pk}/annotation/",
        body,
        content_type="application/json",
        HTTP_TRANSFER_ENCODING="chunked",
        CONTENT_LENGTH="",
    )
    assert response.status_code == 411 and response.json()["code"] == "length_required"
    assert not Annotation.objects.exists()


# --- The ink one save may paint (docs/strokes.md, "Ink budget") ------------------------------------

# 9,999 segments of a 100 px brush, each crossing all 48 rows of the 64x48 image: 479,952 units of ink.
TOO_MUCH_INK = brush([(0, 0), (60, 40)] * 5000, width=100)
A = brush([(0, 0), (60, 40)], width=4)  # 42 units: rows 0 to 41 (clipped at the top) of a 4 px brush
B = brush([(5, 40), (50, 2)], width=4)  # 42 units: rows 0 to 41


def decoded(annotation):
    image = annotation.image
    return coco_mask.decode({"size": [image.height, image.width], "counts": annotation.mask_rle.encode()}).astype(bool)


def painted_strokes(monkeypatch) -> list:
    """Return a list that collects every stroke the server paints from now on."""
    painted = []
    paint = strokes_mod.paint

    def recording(mask, strokes):
        painted.extend(strokes)
        return paint(mask, strokes)

    monkeypatch.setattr(strokes_mod, "paint", recording)
    return painted


def test_a_put_painting_more_ink_than_one_save_may_gets_a_400_naming_it_and_stores_nothing(
    annotator, image, client_for, monkeypatch
):
    painted = painted_strokes(monkeypatch)
    response = put(client_for(annotator), image, document([A, TOO_MUCH_INK]))
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert (error["field"], error["code"]) == ("strokes", "too_much_ink")
    assert "479,994 units of ink" in error["detail"] and "at most 400,000" in error["detail"]
    assert "several saves" in error["detail"]
    assert not Annotation.objects.exists() and painted == []


def test_a_put_replacing_the_stored_strokes_is_budgeted_on_all_it_paints_and_changes_nothing_when_over(
    annotator, image, client_for, monkeypatch
):
    monkeypatch.setattr(strokes_mod, "DEFAULT_LIMITS", strokes_mod.Limits(max_ink=80))
    client = client_for(annotator)
    assert put(client, image, document([A])).status_code == 201
    response = put(client, image, document([B, A], version=1))  # not an append: both are painted, 84 units
    assert response.status_code == 400 and response.json()["errors"][0]["code"] == "too_much_ink"
    annotation = Annotation.objects.get()
    assert (annotation.version, annotation.strokes) == (1, [A])
    assert not AnnotationRevision.objects.exists()


def test_a_put_appending_to_the_stored_strokes_paints_only_those_it_adds(annotator, image, client_for, monkeypatch):
    monkeypatch.setattr(strokes_mod, "DEFAULT_LIMITS", strokes_mod.Limits(max_ink=80))
    client = client_for(annotator)
    assert put(client, image, document([A])).status_code == 201
    painted = painted_strokes(monkeypatch)
    response = put(client, image, document([A, B], version=1))  # 84 units in all, 42 of them new
    assert response.status_code == 200 and response.json()["version"] == 2
    assert painted == [B]
    annotation = Annotation.objects.get()
    expected = strokes_mod.rasterize([A, B], image.width, image.height)
    assert annotation.strokes == [A, B] and (decoded(annotation) == expected).all()
    assert annotation.mask_area == expected.sum() and not AnnotationRevision.objects.exists()


def test_a_put_appending_to_chunked_strokes_adds_a_chunk_as_a_change_would(annotator, image, client_for, monkeypatch):
    client = client_for(annotator)
    url = f"/api/images/{image.pk}/annotation/"
    client.patch(url, {"version": 0, "append": [A]}, format="json")
    client.patch(url, {"version": 1, "append": [B]}, format="json")  # the strokes are chunked now
    painted = painted_strokes(monkeypatch)
    third = brush([(30, 30)], width=9, tool="eraser")
    assert put(client, image, document([A, B, third], version=2)).status_code == 200
    assert painted == [third]
    annotation = Annotation.objects.get()
    assert annotation.chunked and annotation.strokes == []
    assert (annotation.stroke_count, annotation.point_count) == (3, 5)
    assert client.get(url).json()["strokes"] == [A, B, third]
    expected = strokes_mod.rasterize([A, B, third], image.width, image.height)
    assert (decoded(annotation) == expected).all() and annotation.mask_area == expected.sum()
    # An undo into the new chunk repaints from its checkpoint: the mask of the first two.
    client.patch(url, {"version": 3, "remove": 1}, format="json")
    annotation.refresh_from_db()
    assert (decoded(annotation) == strokes_mod.rasterize([A, B], image.width, image.height)).all()


def test_the_largest_valid_document_is_refused_whole_before_any_painting(
    annotator, make_dataset, client_for, monkeypatch
):
    # Issue 16's worst request: 12 strokes of 20,000 points, 512 px wide, on a 4096x4096 image.
    image = make_dataset(n=1, width=4096, height=4096).images.get()
    rng = np.random.default_rng(16)
    strokes = []
    for _ in range(12):
        xy = np.cumsum(rng.normal(0, 40, (20_000, 2)), axis=0) % 4096
        strokes.append(
            {"tool": "brush", "width": 512.0, "points": [[x, y, float(k), 0.5] for k, (x, y) in enumerate(xy.tolist())]}
        )
    painted = painted_strokes(monkeypatch)
    response = put(client_for(annotator), image, document(strokes))
    assert response.status_code == 400 and response.json()["errors"][0]["code"] == "too_much_ink"
    assert painted == [] and not Annotation.objects.exists()
