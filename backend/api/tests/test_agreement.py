"""Agreement figures on cases worked out by hand: IoU and Dice, Fleiss' kappa, accuracy."""

import numpy as np
import pytest

from backend.api import agreement, masks

W, H = 10, 10


def rle(x0, y0, x1, y1):
    mask = np.zeros((H, W), dtype=bool)
    mask[y0:y1, x0:x1] = True
    return masks.rle_object(masks.rle_encode(mask), W, H)


EMPTY = (0, 0, 0, 0)


def answer(annotator_id, box, label=None, active_ms=1000):
    return agreement.Answer(annotator_id, f"user{annotator_id}", label, rle(*box), active_ms)


# --- IoU and Dice -------------------------------------------------------------------


def test_iou_and_dice_of_two_overlapping_squares():
    # A: 4x4 at (0,0), B: 4x4 at (2,0). Intersection 2x4 = 8, union 16 + 16 - 8 = 24.
    ((i, j, both, area_a, area_b),) = agreement.mask_overlaps([rle(0, 0, 4, 4), rle(2, 0, 6, 4)])
    assert (i, j, both, area_a, area_b) == (0, 1, 8, 16, 16)
    assert agreement.iou(both, area_a + area_b - both) == pytest.approx(8 / 24)
    assert agreement.dice(both, area_a, area_b) == pytest.approx(16 / 32)


def test_identical_masks_agree_fully_and_disjoint_ones_not_at_all():
    (same,) = agreement.mask_overlaps([rle(1, 1, 5, 5), rle(1, 1, 5, 5)])
    assert agreement.iou(same[2], same[3] + same[4] - same[2]) == 1.0
    (apart,) = agreement.mask_overlaps([rle(0, 0, 2, 2), rle(5, 5, 7, 7)])
    assert agreement.iou(apart[2], apart[3] + apart[4] - apart[2]) == 0.0
    assert agreement.dice(apart[2], apart[3], apart[4]) == 0.0


def test_two_empty_masks_have_no_iou_or_dice():
    ((_, _, both, a, b),) = agreement.mask_overlaps([rle(*EMPTY), rle(*EMPTY)])
    assert agreement.iou(both, a + b - both) is None and agreement.dice(both, a, b) is None


def test_dice_is_2iou_over_1_plus_iou():
    ((_, _, both, a, b),) = agreement.mask_overlaps([rle(0, 0, 6, 3), rle(2, 1, 9, 8)])
    value = agreement.iou(both, a + b - both)
    assert agreement.dice(both, a, b) == pytest.approx(2 * value / (1 + value))


def test_three_annotators_give_three_pairs():
    pairs = agreement.mask_overlaps([rle(0, 0, 2, 2), rle(0, 0, 2, 1), rle(0, 0, 1, 1)])
    assert [(i, j, both) for i, j, both, _, _ in pairs] == [(0, 1, 2), (0, 2, 1), (1, 2, 1)]


# --- Agreement on the choice --------------------------------------------------------------

# Fleiss (1971) as worked on Wikipedia's "Fleiss' kappa" page: 10 subjects, 14 raters,
# 5 categories; P = 0.378, Pe = 0.213, kappa = 0.210.
WIKIPEDIA = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


def test_fleiss_kappa_of_the_textbook_example():
    assert agreement.fleiss_kappa(WIKIPEDIA) == pytest.approx(0.20993, abs=5e-5)


def test_the_textbook_examples_per_subject_agreement():
    assert agreement.pair_agreement(WIKIPEDIA[0]) == 1.0
    assert agreement.pair_agreement(WIKIPEDIA[1]) == pytest.approx(0.253, abs=5e-4)  # (4+30+12+2)/182


def test_fleiss_kappa_of_perfect_and_of_chance_agreement():
    assert agreement.fleiss_kappa([[3, 0], [0, 3], [3, 0]]) == pytest.approx(1.0)
    # Every image split 1-1 between two answers, half the answers each: P = 0, Pe = 0.5, kappa = -1.
    assert agreement.fleiss_kappa([[1, 1], [1, 1]]) == pytest.approx(-1.0)


def test_fleiss_kappa_allows_a_different_number_of_raters_per_image():
    # Image 1: 2 of 2 chose A (P1 = 1); image 2: 2 A and 1 B of 3 (P2 = 2/6). P = 2/3.
    # Shares: A 4/5, B 1/5; Pe = 16/25 + 1/25 = 17/25. kappa = (2/3 - 17/25) / (8/25) = -1/24.
    assert agreement.fleiss_kappa([[2, 0], [2, 1], [1, 0]]) == pytest.approx(-1 / 24)


def test_fleiss_kappa_is_undefined_without_pairs_or_variety():
    assert agreement.fleiss_kappa([[1, 0], [0, 1]]) is None  # nobody rated twice
    assert agreement.fleiss_kappa([[3, 0], [2, 0]]) is None  # everyone always chose the same
    assert agreement.pair_agreement([1, 0]) is None


# --- Per image and per dataset ---------------------------------------------------------------


def test_image_agreement_worked_by_hand():
    answers = [
        answer(1, (0, 0, 4, 4), "real", 1000),
        answer(2, (2, 0, 6, 4), "real", 3000),
        answer(3, (0, 0, 4, 4), "fake", 2000),
    ]
    figures = agreement.image_agreement(answers, ground_truth="real")
    assert figures["labels"] == {"fake": 1, "real": 2}
    assert figures["majority_label"] == "real"
    assert figures["choice_agreement"] == pytest.approx(1 / 3)  # 1 agreeing pair of 3
    assert (figures["correct"], figures["judged"], figures["accuracy"]) == (2, 3, pytest.approx(2 / 3))
    ious = [p["iou"] for p in figures["pairs"]]
    assert ious == [pytest.approx(1 / 3), pytest.approx(1.0), pytest.approx(1 / 3)]
    assert figures["iou"]["mean"] == pytest.approx(5 / 9)
    assert figures["active_ms"]["median"] == 2000


def test_a_tie_has_no_majority_and_no_ground_truth_no_accuracy():
    figures = agreement.image_agreement([answer(1, EMPTY, "real"), answer(2, EMPTY, "fake")], ground_truth=None)
    assert figures["majority_label"] is None
    assert (figures["judged"], figures["accuracy"]) == (0, None)
    assert figures["iou"] == {"n": 0, "mean": None, "median": None, "min": None, "max": None}


def test_dataset_agreement_worked_by_hand():
    tally = agreement.DatasetAgreement(["real", "fake"])
    tally.add_image(
        {"id": 1, "path": "images/a.png", "ground_truth": "real"},
        [answer(1, (0, 0, 4, 4), "real", 1000), answer(2, (2, 0, 6, 4), "fake", 3000)],
    )
    tally.add_image(
        {"id": 2, "path": "images/b.png", "ground_truth": "fake"},
        [answer(1, (0, 0, 2, 2), "fake", 2000), answer(2, (0, 0, 2, 2), "fake", 4000)],
    )
    result = tally.result()
    # Choice table [[1, 1], [0, 2]]: P = (0 + 1) / 2 = 0.5; shares real 1/4, fake 3/4, Pe = 10/16.
    assert result["fleiss_kappa"] == pytest.approx((0.5 - 10 / 16) / (1 - 10 / 16))
    assert (result["correct"], result["judged"], result["accuracy"]) == (3, 4, 0.75)
    assert result["iou"]["mean"] == pytest.approx((1 / 3 + 1) / 2)
    assert result["iou_histogram"]["counts"] == [0, 0, 0, 1, 0, 0, 0, 0, 0, 1]
    one, two = result["annotators"]
    assert (one["username"], one["accuracy"], one["active_ms"]["median"]) == ("user1", 1.0, 1500)
    assert (two["username"], two["accuracy"], two["iou_with_others"]["mean"]) == ("user2", 0.5, pytest.approx(2 / 3))
    assert [image["choice_agreement"] for image in result["images"]] == [0.0, 1.0]


def test_answers_outside_the_choices_get_their_own_column():
    tally = agreement.DatasetAgreement(["real"])
    tally.add_image({"id": 1, "ground_truth": None}, [answer(1, EMPTY, "real"), answer(2, EMPTY, "other")])
    tally.add_image({"id": 2, "ground_truth": None}, [answer(1, EMPTY, "real"), answer(2, EMPTY, "real")])
    result = tally.result()
    assert result["categories"] == ["real", "other"]
    assert result["fleiss_kappa"] == pytest.approx((0.5 - (9 / 16 + 1 / 16)) / (1 - 10 / 16))


def test_mean_pairwise_overlap_of_masks_leaves_out_pairs_of_empty_masks():
    a = np.zeros((4, 4), bool)
    a[0, :2] = True  # 2 pixels
    b = np.zeros((4, 4), bool)
    b[0, :] = True  # 4 pixels, 2 shared with a
    empty = np.zeros((4, 4), bool)
    assert agreement.mean_pairwise_overlap([a, b]) == {"iou": 0.5, "dice": 2 * 2 / 6, "pairs": 1}
    with_empty = agreement.mean_pairwise_overlap(
        [a, b, empty, empty]
    )  # a-empty and b-empty count as 0; empty-empty not
    assert with_empty["pairs"] == 5 and with_empty["iou"] == pytest.approx(0.5 / 5)
    assert agreement.mean_pairwise_overlap([a]) == {"iou": None, "dice": None, "pairs": 0}
    assert agreement.mean_pairwise_overlap([empty, empty])["iou"] is None


def test_each_image_lists_the_iou_of_each_pair_for_the_histogram():
    tally = agreement.DatasetAgreement(["real"])
    entry = tally.add_image(
        {"id": 1, "ground_truth": None},
        [answer(1, (0, 0, 4, 4)), answer(2, (0, 0, 4, 2)), answer(3, (0, 0, 4, 4))],
    )
    assert sorted(entry["pair_ious"]) == [0.5, 0.5, 1.0]
    assert tally.result()["iou_histogram"]["counts"][5] == 2  # the same values the histogram counts
