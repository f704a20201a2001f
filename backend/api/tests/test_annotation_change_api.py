"""Incremental saves (PATCH): the change alone travels, is applied once, and the document reads the same."""

import json
import re

import pytest
from pycocotools import mask as coco_mask

from backend.api import strokes as strokes_mod
from backend.api.models import Annotation, AnnotationRevision, StrokeChunk

from .conftest import brush, document


def url(image):
    return f"/api/images/{image.pk}/annotation/"


def patch(client, image, **body):
    return client.patch(url(image), body, format="json")


def stored(client, image):
    return client.get(url(image)).json()


def decoded_mask(annotation):
    image = annotation.image
    rle = {"size": [image.height, image.width], "counts": annotation.mask_rle.encode()}
    return coco_mask.decode(rle).astype(bool)


STROKES = [brush([(10 + 3 * k, 10 + 2 * k), (20 + k, 30)], width=3 + k) for k in range(6)]


def test_a_first_change_creates_the_annotation(annotator, image, client_for):
    response = patch(client_for(annotator), image, version=0, append=STROKES[:2], label="real")
    assert response.status_code == 201
    body = response.json()
    assert (body["version"], body["stroke_count"], body["label"]) == (1, 2, "real")
    assert "strokes" not in body


def test_appended_strokes_read_back_as_one_document(annotator, image, client_for):
    client = client_for(annotator)
    patch(client, image, version=0, append=STROKES[:1])
    for k in range(1, 4):
        assert patch(client, image, version=k, append=[STROKES[k]]).json()["version"] == k + 1
    body = stored(client, image)
    assert body["strokes"] == STROKES[:4] and body["stroke_count"] == 4 and body["version"] == 4
    annotation = Annotation.objects.get()
    assert annotation.chunked and annotation.strokes == []
    assert (decoded_mask(annotation) == strokes_mod.rasterize(STROKES[:4], image.width, image.height)).all()


def test_a_change_writes_a_chunk_of_its_own_strokes_only(annotator, image, client_for):
    client = client_for(annotator)
    patch(client, image, version=0, append=STROKES[:3])
    patch(client, image, version=1, append=STROKES[3:4])
    patch(client, image, version=2, append=STROKES[4:5])
    live = StrokeChunk.objects.filter(removed_version__isnull=True).order_by("start")
    # Several strokes in one change: their last is a chunk of its own (undoing it paints nothing).
    assert [(c.start, c.count) for c in live] == [(0, 2), (2, 1), (3, 1), (4, 1)]
    assert live.last().strokes.count('"tool"') == 1


def test_a_document_stored_whole_without_strokes_reads_back_after_changes(annotator, image, client_for):
    client = client_for(annotator)
    assert client.put(url(image), document([], text="first"), format="json").status_code == 201
    assert patch(client, image, version=1, text="first word").status_code == 200  # moved into chunks: none
    assert patch(client, image, version=2, append=STROKES[:2]).status_code == 200
    assert StrokeChunk.objects.filter(count=0).count() == 0
    assert stored(client, image)["strokes"] == STROKES[:2]


def _painted_strokes(monkeypatch):
    """Count the strokes painted from now on (every mask painted on a save goes through strokes.paint)."""
    painted = []
    paint = strokes_mod.paint
    monkeypatch.setattr(strokes_mod, "paint", lambda mask, strokes: painted.extend(strokes) or paint(mask, strokes))
    return painted


def test_a_create_counts_its_ink_once(annotator, image, client_for, monkeypatch):
    counted = []
    ink = strokes_mod.ink
    monkeypatch.setattr(strokes_mod, "ink", lambda strokes, *size: counted.append(len(strokes)) or ink(strokes, *size))
    assert patch(client_for(annotator), image, version=0, append=STROKES[:5]).status_code == 201
    assert counted == [5]  # the budget's check; cutting the chunks knows they are within it


@pytest.mark.parametrize("first", ["create", "append"])
def test_undoing_the_last_stroke_of_a_change_of_several_paints_nothing(
    annotator, image, client_for, monkeypatch, first
):
    client = client_for(annotator)
    if first == "create":
        patch(client, image, version=0, append=STROKES[:5])
    else:
        patch(client, image, version=0, append=STROKES[:1])
        patch(client, image, version=1, append=STROKES[1:5])
    version = Annotation.objects.get().version
    four, two = (strokes_mod.rasterize(STROKES[:n], image.width, image.height) for n in (4, 2))
    painted = _painted_strokes(monkeypatch)
    assert patch(client, image, version=version, remove=1).status_code == 200
    assert painted == []  # it starts from the last stroke's checkpoint
    annotation = Annotation.objects.get()
    assert (decoded_mask(annotation) == four).all() and annotation.mask_area == four.sum()
    assert patch(client, image, version=version + 1, remove=2).status_code == 200
    assert painted == (STROKES[:2] if first == "create" else STROKES[1:2])  # the head of the chunk it cuts
    assert (decoded_mask(Annotation.objects.get()) == two).all()
    assert stored(client, image)["strokes"] == STROKES[:2]


@pytest.mark.parametrize("remove", [1, 2, 3, 5])
def test_removing_from_the_end_gives_the_mask_of_what_is_left(annotator, image, client_for, remove):
    client = client_for(annotator)
    patch(client, image, version=0, append=STROKES[:2])
    patch(client, image, version=1, append=STROKES[2:4])
    patch(client, image, version=2, append=STROKES[4:5])
    response = patch(client, image, version=3, remove=remove)
    assert response.status_code == 200
    keep = 5 - remove
    assert stored(client, image)["strokes"] == STROKES[:keep]
    annotation = Annotation.objects.get()
    expected = strokes_mod.rasterize(STROKES[:keep], image.width, image.height)
    assert (decoded_mask(annotation) == expected).all() and annotation.mask_area == expected.sum()


def test_a_removal_and_an_append_in_one_change_redraw_from_the_cut(annotator, image, client_for):
    client = client_for(annotator)
    patch(client, image, version=0, append=STROKES[:3])
    patch(client, image, version=1, append=STROKES[3:4])
    patch(client, image, version=2, remove=2, append=STROKES[5:6])
    expected_strokes = STROKES[:2] + STROKES[5:6]
    assert stored(client, image)["strokes"] == expected_strokes
    expected = strokes_mod.rasterize(expected_strokes, image.width, image.height)
    assert (decoded_mask(Annotation.objects.get()) == expected).all()


def test_a_removal_keeps_what_it_removed_as_a_revision(annotator, image, client_for):
    client = client_for(annotator)
    patch(client, image, version=0, append=STROKES[:2])
    patch(client, image, version=1, append=STROKES[2:3])
    patch(client, image, version=2, remove=2)
    revision = AnnotationRevision.objects.get()
    assert revision.version == 2 and revision.chunked
    from backend.api.selectors.strokes import revision_strokes

    assert revision_strokes(revision) == STROKES[:3]


def test_restoring_a_revision_of_a_chunked_annotation_brings_its_strokes_back(annotator, image, client_for):
    from backend.api.services import annotation_restore

    client = client_for(annotator)
    patch(client, image, version=0, append=STROKES[:2])
    patch(client, image, version=1, append=STROKES[2:3])
    patch(client, image, version=2, remove=3)
    annotation_restore(revision=AnnotationRevision.objects.get(version=2), user=annotator)
    assert stored(client, image)["strokes"] == STROKES[:3]
    annotation = Annotation.objects.get()
    assert not annotation.chunked and annotation.version == 4
    assert (decoded_mask(annotation) == strokes_mod.rasterize(STROKES[:3], image.width, image.height)).all()


def test_a_retried_change_is_answered_without_being_applied_again(annotator, image, client_for):
    client = client_for(annotator)
    patch(client, image, version=0, append=STROKES[:1], op="a1")
    first = patch(client, image, version=1, append=STROKES[1:2], op="b2")
    again = patch(client, image, version=1, append=STROKES[1:2], op="b2")
    assert first.status_code == again.status_code == 200
    assert again.json()["version"] == 2
    assert stored(client, image)["strokes"] == STROKES[:2]


def test_a_change_on_a_stale_version_gets_409_with_the_current_document(annotator, image, client_for):
    client = client_for(annotator)
    patch(client, image, version=0, append=STROKES[:1])
    patch(client, image, version=1, append=STROKES[1:2])
    response = patch(client, image, version=1, append=STROKES[2:3], op="other")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "version_conflict"
    assert body["current"]["version"] == 2 and body["current"]["strokes"] == STROKES[:2]


def test_a_put_after_changes_replaces_the_document_and_keeps_the_old_one(annotator, image, client_for):
    client = client_for(annotator)
    patch(client, image, version=0, append=STROKES[:1])
    patch(client, image, version=1, append=STROKES[1:3])
    response = client.put(url(image), document(STROKES[4:5], version=2), format="json")
    assert response.status_code == 200 and response.json()["strokes"] == STROKES[4:5]
    annotation = Annotation.objects.get()
    assert not annotation.chunked and annotation.strokes == STROKES[4:5]
    from backend.api.selectors.strokes import revision_strokes

    assert revision_strokes(AnnotationRevision.objects.get(version=2)) == STROKES[:3]
    patch(client, image, version=3, append=STROKES[5:6])
    assert stored(client, image)["strokes"] == [STROKES[4], STROKES[5]]


def test_a_put_of_the_stored_document_changes_nothing(annotator, image, client_for):
    client = client_for(annotator)
    patch(client, image, version=0, append=STROKES[:1])
    patch(client, image, version=1, append=STROKES[1:2])
    response = client.put(url(image), document(STROKES[:2], version=1), format="json")
    assert response.status_code == 200 and response.json()["version"] == 2


def test_a_change_of_text_alone_keeps_the_strokes(annotator, image, client_for):
    client = client_for(annotator)
    patch(client, image, version=0, append=STROKES[:2])
    patch(client, image, version=1, append=STROKES[2:3])
    response = patch(client, image, version=2, text="a bird")
    assert response.json()["version"] == 3
    body = stored(client, image)
    assert (body["strokes"], body["text"], body["label"]) == (STROKES[:3], "a bird", None)


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"version": 1, "remove": 3}, "remove", "remove_too_many"),
        ({"version": 1, "append": [brush([(1, 1)], width=0)]}, "append[0].width", "width_out_of_range"),
        ({"version": 1, "label": "maybe"}, "label", "invalid_choice"),
        ({"version": 1, "op": "not an id!"}, "op", "invalid"),
    ],
)
def test_a_bad_change_gets_a_400_naming_it_and_stores_nothing(annotator, image, client_for, body, field, code):
    client = client_for(annotator)
    patch(client, image, version=0, append=STROKES[:2])
    chunks = list(StrokeChunk.objects.values())
    response = client.patch(url(image), body, format="json")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert (errors[0]["field"], errors[0]["code"]) == (field, code)
    assert Annotation.objects.get().version == 1 and list(StrokeChunk.objects.values()) == chunks


def test_strokes_holding_too_much_ink_for_one_save_get_a_400(annotator, image, client_for, settings):
    wide = brush([(0, 0), (60, 40)] * 5000, width=100)
    response = patch(client_for(annotator), image, version=0, append=[wide])
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert (error["field"], error["code"]) == ("append", "too_much_ink")
    assert not Annotation.objects.exists()


def test_a_change_past_the_document_limits_is_refused(annotator, image, client_for, monkeypatch):
    monkeypatch.setattr(strokes_mod, "DEFAULT_LIMITS", strokes_mod.Limits(max_strokes=3, max_points=6))
    client = client_for(annotator)
    patch(client, image, version=0, append=STROKES[:2])
    too_many = patch(client, image, version=1, append=STROKES[2:4])
    assert too_many.json()["errors"][0]["code"] == "too_many_strokes"
    too_many_points = patch(client, image, version=1, append=[brush([(1, 1), (2, 2), (3, 3)])])
    assert too_many_points.json()["errors"][0]["code"] == "too_many_points"


# --- The same document from the outside, whether saved whole or by changes -----------------------


@pytest.fixture
def saved_both_ways(annotator, make_user, image, client_for):
    """Return (the annotation saved by changes, the same strokes saved whole by another annotator)."""
    client = client_for(annotator)
    patch(client, image, version=0, append=STROKES[:2], label="real")
    patch(client, image, version=1, append=STROKES[2:4])
    patch(client, image, version=2, remove=1, append=STROKES[4:6])
    whole = make_user()
    client_for(whole).put(url(image), document(STROKES[:3] + STROKES[4:6], label="real"), format="json")
    return Annotation.objects.get(annotator=annotator), Annotation.objects.get(annotator=whole)


@pytest.mark.parametrize("name", ["strokes.json", "mask.svg", "mask.png"])
def test_an_annotations_files_are_the_same_whether_saved_by_changes_or_whole(
    saved_both_ways, admin_user, client_for, name
):
    chunked, whole = saved_both_ways
    assert chunked.chunked and not whole.chunked
    client = client_for(admin_user)
    files = [client.get(f"/api/annotations/{a.pk}/{name}") for a in (chunked, whole)]
    if name == "strokes.json":
        documents = [response.json() for response in files]
        assert documents[0]["strokes"] == documents[1]["strokes"] == STROKES[:3] + STROKES[4:6]
    else:  # the SVG's title names the annotator and the version: the rest is the same
        untitled = [re.sub(rb"<title>.*?</title>", b"", response.content) for response in files]
        assert untitled[0] == untitled[1] and len(untitled[0]) > 100


def test_the_jsonl_export_holds_the_strokes_of_a_chunked_annotation(saved_both_ways, admin_user, client_for):
    chunked, whole = saved_both_ways
    response = client_for(admin_user).get(f"/api/datasets/{chunked.image.dataset_id}/export/?format=jsonl&status=all")
    lines = [json.loads(line) for line in b"".join(response.streaming_content).decode().splitlines()]
    by_id = {line["id"]: line for line in lines}
    assert by_id[chunked.pk]["strokes"] == by_id[whole.pk]["strokes"] == STROKES[:3] + STROKES[4:6]
    assert by_id[chunked.pk]["mask_area"] == by_id[whole.pk]["mask_area"] > 0


def test_the_admin_shows_a_chunked_annotations_strokes_and_revisions(saved_both_ways, admin_user, client):
    chunked, _ = saved_both_ways
    admin_user.is_superuser = True
    admin_user.save()
    client.force_login(admin_user)
    page = client.get(f"/api/admin/api/annotation/{chunked.pk}/change/")
    assert page.status_code == 200
    assert json.dumps(STROKES[5]["points"][0]) in page.content.decode()
    revision = AnnotationRevision.objects.get(annotation=chunked)
    assert (revision.version, revision.stroke_count) == (2, 4)
    revision_page = client.get(f"/api/admin/api/annotationrevision/{revision.pk}/change/")
    assert json.dumps(STROKES[3]["points"][0]) in revision_page.content.decode()


@pytest.mark.parametrize("remove", [1, 2, 3, 5, 6, 9])
def test_a_large_document_moved_into_chunks_undoes_from_their_checkpoints(
    annotator, image, client_for, monkeypatch, remove
):
    from backend.api.services import stroke_chunks

    monkeypatch.setattr(stroke_chunks, "CONVERT_STROKES", 4)  # 10 strokes: chunks of 4, 4, 1 and the last
    strokes = [brush([(4 + 6 * k, 40 - 3 * k), (50 - 4 * k, 8 + 4 * k)], width=2 + k % 3) for k in range(10)]
    strokes[6]["tool"] = "eraser"
    client = client_for(annotator)
    client.put(url(image), document(strokes), format="json")
    response = patch(client, image, version=1, remove=remove)
    assert response.status_code == 200
    live = StrokeChunk.objects.filter(removed_version__isnull=True).order_by("start")
    assert sum(chunk.count for chunk in live) == 10 - remove
    assert stored(client, image)["strokes"] == strokes[: 10 - remove]
    annotation = Annotation.objects.get()
    expected = strokes_mod.rasterize(strokes[: 10 - remove], image.width, image.height)
    assert (decoded_mask(annotation) == expected).all() and annotation.mask_area == expected.sum()


def test_a_document_moved_into_chunks_is_cut_by_the_ink_one_save_may_paint_too(
    annotator, image, client_for, monkeypatch
):
    client = client_for(annotator)
    strokes = [brush([(k % 60, 0), (k % 60, 40)], width=4) for k in range(70)]  # 42 units each
    client.put(url(image), document(strokes), format="json")
    monkeypatch.setattr(strokes_mod, "DEFAULT_LIMITS", strokes_mod.Limits(max_ink=100))
    assert patch(client, image, version=1, append=[brush([(1, 1)])]).status_code == 200
    live = StrokeChunk.objects.filter(removed_version__isnull=True).order_by("start")
    # Two strokes (84 units) a chunk, the document's last stroke a chunk of its own, then the one appended.
    assert [c.count for c in live] == [2] * 34 + [1, 1, 1]
    assert patch(client, image, version=2, remove=2).status_code == 200  # cuts the last converted chunk
    annotation = Annotation.objects.get()
    assert (decoded_mask(annotation) == strokes_mod.rasterize(strokes[:69], image.width, image.height)).all()


# --- The text alone: its short path stores what the general path stores --------------------------


def _snapshot(client, image, annotator):
    """Return what is stored of the annotator's work on the image, but ids and times."""
    from backend.api.models import AnnotatorProgress, Assignment

    annotation = Annotation.objects.get(image=image, annotator=annotator)
    row = {
        name: getattr(annotation, name)
        for name in ("label", "text", "status", "version", "active_ms", "client", "stroke_count", "point_count")
    }
    row |= {name: getattr(annotation, name) for name in ("mask_area", "mask_rle", "last_op", "chunked")}
    row["submitted"] = annotation.submitted_at is not None
    revisions = [
        (r.version, r.label, r.text, r.status, r.stroke_count, r.chunked, r.reason)
        for r in AnnotationRevision.objects.filter(annotation=annotation).order_by("version")
    ]
    chunks = [
        (c.start, c.count, c.points, c.strokes, c.mask_before, c.created_version, c.removed_version)
        for c in StrokeChunk.objects.filter(annotation=annotation).order_by("created_version", "start")
    ]
    assignment = Assignment.objects.get(image=image, annotator=annotator)
    progress = AnnotatorProgress.objects.get(dataset=image.dataset, annotator=annotator)
    queue = (assignment.status, assignment.skip_reason, assignment.leased_until is not None)
    counts = (progress.submitted_count, progress.skipped_count, progress.active_ms, progress.last_active_at is not None)
    return row, revisions, chunks, queue, counts, _timeless(stored(client, image))


# What differs between two annotators' saves of two images at two moments.
UNCOMPARED = ("id", "image", "annotator", "annotator_username", "created_at", "updated_at", "started_at")
UNCOMPARED += ("submitted_at",)


def _timeless(body):
    return {key: value for key, value in body.items() if key not in UNCOMPARED}


TYPING = [  # (body, the status expected): typing on, retries, conflicts, metadata, deleting, then submitting
    ({"version": 0, "append": STROKES[:2], "op": "c1", "active_ms": 10}, 201),
    ({"version": 1, "append": STROKES[2:3], "op": "c2"}, 200),
    ({"version": 2, "text": "a", "op": "c3", "active_ms": 500, "client": {"user_agent": "pen"}}, 200),
    ({"version": 3, "text": "a bird", "op": "c4", "active_ms": 400}, 200),  # active time never shrinks
    ({"version": 3, "text": "a bird", "op": "c4", "active_ms": 400}, 200),  # a retry of the last change
    ({"version": 4, "text": "a bird", "op": "c5", "active_ms": 900}, 200),  # only the active time moves
    ({"version": 4, "text": "a bird", "op": "c6", "client": {"user_agent": "mouse"}}, 200),  # only the client
    ({"version": 4, "text": "a bird", "op": "c7"}, 200),  # nothing at all
    ({"version": 3, "text": "a bird!", "op": "c8"}, 409),  # a stale version
    ({"version": 4, "text": "a bird!", "label": None, "status": "draft", "op": "c9"}, 200),
    ({"version": 5, "text": "a bi", "op": "d1"}, 200),  # deleting text keeps a revision
    ({"version": 6, "text": "a bird", "label": "real", "op": "d2"}, 200),  # a new answer
    ({"version": 7, "text": "a bird, real", "op": "d3", "active_ms": 1200}, 200),
    ({"version": 8, "text": "a bird, real", "status": "submitted", "op": "d4"}, 200),
    ({"version": 9, "text": "a bird, really", "op": "d5"}, 200),  # typing on a submitted image
]


def _type(client, image):
    answers = []
    for body, expected in TYPING:
        response = client.patch(url(image), body, format="json")
        assert response.status_code == expected, (body, response.content)
        answers.append(_timeless(response.json()) if expected < 300 else response.json()["current"]["version"])
    return answers


def test_typing_stores_the_same_by_the_short_path_as_by_the_general_one(
    annotator, make_user, demo_dataset, client_for, monkeypatch
):
    from backend.api.services import text_changes

    first, second = demo_dataset.images.order_by("position")[:2]
    took = []
    apply = text_changes.text_change_apply
    monkeypatch.setattr(text_changes, "text_change_apply", lambda **kw: took.append(apply(**kw)) or took[-1])
    short = _type(client_for(annotator), first)
    assert sum(done is not None for done in took) >= 6  # the short path did the typing, not the general one
    monkeypatch.setattr(text_changes, "is_text_change", lambda change: False)
    other = make_user()
    general = _type(client_for(other), second)
    assert short == general
    assert _snapshot(client_for(annotator), first, annotator) == _snapshot(client_for(other), second, other)


def test_typing_renews_the_lease_and_counts_the_active_time(annotator, image, client_for):
    from backend.api.models import AnnotatorProgress, Assignment

    client = client_for(annotator)
    patch(client, image, version=0, append=STROKES[:1], active_ms=100)
    patch(client, image, version=1, append=STROKES[1:2], active_ms=200)
    Assignment.objects.update(leased_until=None)
    response = patch(client, image, version=2, text="typed", active_ms=700)
    assert response.status_code == 200 and response.json()["version"] == 3
    assert Assignment.objects.get().leased_until is not None
    assert AnnotatorProgress.objects.get().active_ms == 700
    assert Annotation.objects.get().last_op == ""


def test_typing_that_deletes_text_keeps_a_revision(annotator, image, client_for):
    client = client_for(annotator)
    patch(client, image, version=0, append=STROKES[:1])
    patch(client, image, version=1, append=STROKES[1:2])
    patch(client, image, version=2, text="a long text")
    patch(client, image, version=3, text="a long")
    revision = AnnotationRevision.objects.get()
    assert (revision.version, revision.text) == (3, "a long text")
    assert stored(client, image)["text"] == "a long"


def test_typing_with_a_stale_version_gets_409_and_changes_nothing(annotator, image, client_for):
    client = client_for(annotator)
    patch(client, image, version=0, append=STROKES[:1])
    patch(client, image, version=1, append=STROKES[1:2])
    patch(client, image, version=2, text="mine", op="t1")
    response = patch(client, image, version=2, text="theirs", op="t2")
    assert response.status_code == 409 and response.json()["current"]["text"] == "mine"
    retry = patch(client, image, version=2, text="mine", op="t1")
    assert retry.status_code == 200 and retry.json()["version"] == 3
    assert Annotation.objects.get().version == 3


@pytest.mark.parametrize("submit", [False, True])
def test_a_saves_answer_is_the_summary_serializers(annotator, image, client_for, submit):
    from backend.api.serializers import AnnotationSummarySerializer, annotation_summary

    client = client_for(annotator)
    patch(client, image, version=0, append=STROKES[:2], text="ok")
    if submit:
        patch(client, image, version=1, label="real", status="submitted")
    annotation = Annotation.objects.select_related("image", "annotator").get()
    expected = dict(AnnotationSummarySerializer(annotation).data)
    assert annotation_summary(annotation) == expected
    assert list(annotation_summary(annotation)) == list(expected)
    assert (expected["submitted_at"] is not None) == submit and expected["updated_at"].endswith("Z")


def test_a_redrawn_stroke_makes_a_fixed_number_of_queries(annotator, demo_dataset, django_assert_num_queries):
    from .test_annotation_api import _token_client

    client = _token_client(annotator)
    image = demo_dataset.images.get(pk=client.get(f"/api/datasets/{demo_dataset.pk}/next/").json()["image"]["id"])
    patch(client, image, version=0, append=STROKES[:3])
    # The token with its user and role, the image with its dataset; in the transaction (a savepoint
    # in tests: two statements), the three rows locked at once, the revision copied, the last
    # chunk retired, the new one written, then the annotation and the progress (the lease is not due).
    with django_assert_num_queries(10):
        response = patch(client, image, version=1, remove=1, append=STROKES[3:4])
    assert response.status_code == 200 and response.json()["version"] == 2


def test_typing_makes_a_fixed_number_of_queries(annotator, demo_dataset, django_assert_num_queries):
    from .test_annotation_api import _token_client

    client = _token_client(annotator)
    image = demo_dataset.images.get(pk=client.get(f"/api/datasets/{demo_dataset.pk}/next/").json()["image"]["id"])
    patch(client, image, version=0, append=STROKES[:2])
    # The token with its user and role, the image with its dataset; in the transaction (a savepoint
    # in tests: two statements), the three rows locked at once, then the annotation and the
    # progress written (the lease, renewed by the save before, is not due).
    with django_assert_num_queries(7):
        response = patch(client, image, version=1, text="typed")
    assert response.status_code == 200 and response.json()["version"] == 2


@pytest.mark.parametrize("state", ["none", "whole", "changes", "submitted"])
def test_opening_an_image_reads_as_the_own_annotation_serializer_gives_it(
    annotator, image, client_for, state, django_assert_num_queries
):
    from rest_framework.renderers import JSONRenderer

    from backend.api.serializers import OwnAnnotationSerializer

    client = client_for(annotator)
    info = {"user_agent": "Firefox", "device_pixel_ratio": 2, "pointer_types": ["pen"]}
    if state == "whole":
        client.put(url(image), document(STROKES[:2], text="whole", client=info), format="json")
    elif state in ("changes", "submitted"):
        first = {
            "version": 0,
            "append": STROKES[:2],
            "text": "ok",
            "client": info,
            "started_at": "2026-01-02T03:04:05Z",
        }
        client.patch(url(image), first, format="json")
        patch(client, image, version=1, append=STROKES[2:3], label="real", status=state.replace("changes", "draft"))
    annotation = Annotation.objects.filter(image=image).first()
    if annotation is None:
        annotation = Annotation(image=image, annotator=annotator, version=0, started_at=None)
    expected = json.loads(JSONRenderer().render(OwnAnnotationSerializer(annotation).data))
    client.get(url(image))  # the user's role, read once
    # The image with its dataset, the annotation with its image and user, its strokes if it is chunked.
    with django_assert_num_queries(2 + (state in ("changes", "submitted"))):
        response = client.get(url(image))
    assert response.json() == expected
    assert list(response.json()) == [name for name in expected if name != "strokes"] + ["strokes"]  # spliced in last
    assert (expected["id"] is None) == (state == "none") and expected["client"] == ({} if state == "none" else info)
