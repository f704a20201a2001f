"""Agreement and quality over the API, on the study worked out by hand (see research_fixtures.study)."""

import pytest

from .research_fixtures import study_fixture  # noqa: F401 (the study fixture)

# a.png (truth real): alice rect(0,0,10,10) real 1000 ms, bob rect(5,0,15,10) fake 3000 ms:
#   intersection 50, union 150: IoU 1/3, Dice 100/200 = 1/2.
# b.png (truth fake): alice rect(0,0,20,10) real 2000 ms, bob rect(0,0,10,10) fake 4000 ms:
#   intersection 100, union 200: IoU 1/2, Dice 200/300 = 2/3.
# Answers: both images split real/fake, so P = 0, Pe = 1/2 and Fleiss' kappa = -1.


def stats(client, dataset, **params):
    return client.get(f"/api/datasets/{dataset.pk}/stats/", params)


def test_dataset_figures_worked_out_by_hand(study, researcher, client_for):
    response = stats(client_for(researcher), study["dataset"])
    assert response.status_code == 200
    figures = response.json()
    assert (figures["annotations"], figures["images_annotated"], figures["annotators_count"]) == (4, 2, 2)
    assert figures["iou"]["mean"] == pytest.approx((1 / 3 + 1 / 2) / 2)
    assert figures["dice"]["mean"] == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert figures["fleiss_kappa"] == pytest.approx(-1.0)
    assert (figures["correct"], figures["judged"], figures["accuracy"]) == (2, 4, 0.5)
    assert figures["active_ms"]["mean"] == 2500
    assert sum(figures["iou_histogram"]["counts"]) == 2


def test_per_annotator_accuracy_time_and_overlap(study, researcher, client_for):
    alice, bob = stats(client_for(researcher), study["dataset"]).json()["annotators"]
    assert (alice["username"], alice["accuracy"], alice["active_ms"]["median"]) == ("alice", 0.5, 1500)
    assert (bob["username"], bob["accuracy"], bob["active_ms"]["median"]) == ("bob", 0.5, 3500)
    assert alice["iou_with_others"]["mean"] == pytest.approx(5 / 12)


def test_per_image_figures_are_listed_for_sorting(study, researcher, client_for):
    a, b = stats(client_for(researcher), study["dataset"]).json()["images"]
    assert (a["path"], a["ground_truth"], a["labels"]) == ("images/a.png", "real", {"fake": 1, "real": 1})
    assert a["iou"]["mean"] == pytest.approx(1 / 3) and b["iou"]["mean"] == pytest.approx(1 / 2)
    assert (a["choice_agreement"], a["majority_label"], a["accuracy"]) == (0.0, None, 0.5)
    assert b["active_ms"]["mean"] == 3000


def test_test_users_change_the_figures_only_when_included(study, researcher, client_for):
    figures = stats(client_for(researcher), study["dataset"], include_test="true").json()
    # a.png: real, fake, real (tess): P_a = 2/6; b.png: P_b = 0. P = 1/6; shares 3/5, 2/5: Pe = 13/25.
    assert figures["fleiss_kappa"] == pytest.approx((1 / 6 - 13 / 25) / (1 - 13 / 25))
    assert figures["annotations"] == 5


def test_filters_apply_to_the_figures(study, researcher, client_for):
    figures = stats(client_for(researcher), study["dataset"], annotator="alice").json()
    assert (figures["annotations"], figures["iou"]["n"], figures["fleiss_kappa"]) == (2, 0, None)


def test_image_figures_list_every_pair_and_answer(study, researcher, client_for):
    image = study["images"]["b.png"]
    figures = client_for(researcher).get(f"/api/images/{image.pk}/stats/").json()
    users = study["users"]
    (pair,) = figures["pairs"]
    assert pair["annotators"] == sorted([users["alice"].pk, users["bob"].pk])
    assert (pair["iou"], pair["dice"]) == (pytest.approx(0.5), pytest.approx(2 / 3))
    answers = {a["annotator"]: a for a in figures["answers"]}
    assert answers["alice"]["correct"] is False and answers["bob"]["correct"] is True
    assert (answers["alice"]["mask_area"], answers["bob"]["mask_area"]) == (200, 100)


def test_the_dataset_stats_take_a_fixed_number_of_queries(study, researcher, client_for, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        assert stats(client_for(researcher), study["dataset"]).status_code == 200


def test_annotators_may_not_see_the_figures(study, client_for):
    client = client_for(study["users"]["alice"])
    assert stats(client, study["dataset"]).status_code == 403
    assert client.get(f"/api/images/{study['images']['a.png'].pk}/stats/").status_code == 403


@pytest.mark.parametrize(
    "params, field",
    [({"status": "finished"}, "status"), ({"include_test": "perhaps"}, "include_test"), ({"sigma": "2"}, "sigma")],
)
def test_bad_parameters_get_400_naming_them(params, field, study, researcher, client_for):
    response = stats(client_for(researcher), study["dataset"], **params)
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == field


def test_the_figures_are_revalidated_until_an_annotation_changes(study, researcher, client_for):
    from backend.api import services

    client = client_for(researcher)
    first = stats(client, study["dataset"])
    assert "private" in first["Cache-Control"] and first["ETag"]
    again = client.get(f"/api/datasets/{study['dataset'].pk}/stats/", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    alice_a = study["annotations"][("a", "alice")]
    services.annotation_save(
        image=alice_a.image,
        annotator=alice_a.annotator,
        content=services.AnnotationContent(strokes=alice_a.strokes, label="fake", text="", status="submitted"),
        base_version=alice_a.version,
    )
    changed = client.get(f"/api/datasets/{study['dataset'].pk}/stats/", HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200 and changed.json()["accuracy"] == 0.25


def test_other_filters_are_other_figures(study, researcher, client_for):
    client = client_for(researcher)
    first = stats(client, study["dataset"])
    url = f"/api/datasets/{study['dataset'].pk}/stats/?include_test=true"
    assert client.get(url, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 200


def test_image_figures_answer_304_while_unchanged(study, researcher, client_for):
    client = client_for(researcher)
    url = f"/api/images/{study['images']['a.png'].pk}/stats/"
    first = client.get(url)
    assert client.get(url, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
