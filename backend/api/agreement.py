"""Agreement and quality figures: mask overlap between annotators, agreement on the choice, accuracy.

Pure: no ORM, no HTTP. Masks come in as COCO RLE objects and are compared with pycocotools
without decoding them. Definitions (also in docs/research.md, "Agreement and quality"):

- IoU of two masks A, B: |A ∩ B| / |A ∪ B|; Dice: 2 |A ∩ B| / (|A| + |B|). Both are undefined
  (null) when both masks are empty, and such pairs are left out of means.
- Agreement on the choice of one image: the fraction of pairs of its annotators who chose
  the same answer (Fleiss' P_i); annotators without an answer are left out.
- Fleiss' kappa of a dataset, over the images with at least two answers, allowing a
  different number of answers per image: kappa = (P - Pe) / (1 - Pe), where P is the mean
  of the images' P_i and Pe = sum_j p_j^2 with p_j the share of all answers that are j.
- Accuracy: the fraction of answers equal to the image's ground truth, over the answers to
  images that have one.
"""

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from pycocotools import mask as coco_mask


def iou(intersection: int, union: int) -> float | None:
    """Return intersection over union, or None when both masks are empty."""
    return intersection / union if union else None


def dice(intersection: int, area_a: int, area_b: int) -> float | None:
    """Return the Dice coefficient, or None when both masks are empty."""
    total = area_a + area_b
    return 2.0 * intersection / total if total else None


def mask_overlaps(rles: Sequence[dict]) -> list[tuple[int, int, int, int, int]]:
    """Return (i, j, intersection, area_i, area_j) for every pair i < j of the RLE masks, in exact pixels."""
    areas = [int(a) for a in coco_mask.area(list(rles))] if rles else []
    pairs = []
    for i in range(len(rles)):
        for j in range(i + 1, len(rles)):
            both = coco_mask.merge([rles[i], rles[j]], intersect=True)
            pairs.append((i, j, int(coco_mask.area(both)), areas[i], areas[j]))
    return pairs


def mean_pairwise_overlap(masks: Sequence[np.ndarray]) -> dict:
    """Return the mean IoU and Dice over every pair of these boolean masks: {"iou", "dice", "pairs"}.

    Pairs of two empty masks are left out (their IoU and Dice are undefined); None with no pair left.
    """
    flat = [np.asarray(mask, dtype=bool).ravel() for mask in masks]
    areas = [int(mask.sum()) for mask in flat]
    ious, dices = [], []
    for i in range(len(flat)):
        for j in range(i + 1, len(flat)):
            both = int(np.count_nonzero(flat[i] & flat[j]))
            overlap = iou(both, areas[i] + areas[j] - both)
            if overlap is not None:
                ious.append(overlap)
                dices.append(dice(both, areas[i], areas[j]))
    return {
        "iou": float(np.mean(ious)) if ious else None,
        "dice": float(np.mean(dices)) if dices else None,
        "pairs": len(ious),
    }


def pair_agreement(counts: Iterable[int]) -> float | None:
    """Return the fraction of pairs of raters who chose the same category (Fleiss' P_i); None below two raters."""
    counts = list(counts)
    n = sum(counts)
    if n < 2:
        return None
    return sum(c * (c - 1) for c in counts) / (n * (n - 1))


def fleiss_kappa(table: Sequence[Sequence[int]]) -> float | None:
    """Return Fleiss' kappa of a table of counts (one row per item, one column per category).

    Rows may have different totals; rows with fewer than two ratings are left out. Returns
    None when it is undefined: no item rated twice, or every rating in one category
    (expected agreement 1).
    """
    rows = [list(row) for row in table if sum(row) >= 2]
    if not rows:
        return None
    counts = np.asarray(rows, dtype=np.float64)
    per_item = counts.sum(axis=1)
    p_i = ((counts * (counts - 1)).sum(axis=1)) / (per_item * (per_item - 1))
    observed = p_i.mean()
    shares = counts.sum(axis=0) / per_item.sum()
    expected = float((shares**2).sum())
    if expected >= 1.0:
        return None
    return float((observed - expected) / (1.0 - expected))


def summary(values: Iterable[float]) -> dict:
    """Return n, mean, median, min and max of the values (nulls when there are none)."""
    array = np.asarray([v for v in values if v is not None], dtype=np.float64)
    if array.size == 0:
        return {"n": 0, "mean": None, "median": None, "min": None, "max": None}
    return {
        "n": int(array.size),
        "mean": float(array.mean()),
        "median": float(np.median(array)),
        "min": float(array.min()),
        "max": float(array.max()),
    }


def histogram(values: Iterable[float], bins: int = 10) -> dict:
    """Return counts of the values in ``bins`` equal bins over [0, 1] (the last bin includes 1)."""
    array = np.asarray([v for v in values if v is not None], dtype=np.float64)
    counts, edges = np.histogram(array, bins=bins, range=(0.0, 1.0))
    return {"edges": [round(float(e), 6) for e in edges], "counts": [int(c) for c in counts]}


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


@dataclass(frozen=True)
class Answer:
    """What one annotator did on one image, as far as agreement is concerned."""

    annotator_id: int
    annotator: str
    label: str | None
    rle: dict
    active_ms: int


def image_agreement(answers: Sequence[Answer], *, ground_truth: str | None, with_pairs: bool = True) -> dict:
    """Return the agreement figures of one image's answers (see the module's definitions)."""
    labels = [a.label for a in answers if a.label is not None]
    label_counts = Counter(labels)
    majority = None
    if label_counts:
        top = label_counts.most_common()
        # A tie has no majority: say so rather than pick one by accident of order.
        majority = top[0][0] if len(top) == 1 or top[0][1] > top[1][1] else None
    judged = [label for label in labels if ground_truth not in (None, "")]
    correct = sum(label == ground_truth for label in judged)
    pairs = []
    for i, j, both, area_i, area_j in mask_overlaps([a.rle for a in answers]):
        pairs.append(
            {
                "annotators": [answers[i].annotator_id, answers[j].annotator_id],
                "iou": iou(both, area_i + area_j - both),
                "dice": dice(both, area_i, area_j),
            }
        )
    result = {
        "annotations": len(answers),
        "labels": dict(sorted(label_counts.items())),
        "majority_label": majority,
        "choice_agreement": pair_agreement(label_counts.values()),
        "correct": correct,
        "judged": len(judged),
        "accuracy": _ratio(correct, len(judged)),
        "iou": summary(p["iou"] for p in pairs),
        "dice": summary(p["dice"] for p in pairs),
        "active_ms": summary(a.active_ms for a in answers),
    }
    if with_pairs:
        result["pairs"] = pairs
    return result


@dataclass
class _AnnotatorTally:
    username: str
    annotations: int = 0
    correct: int = 0
    judged: int = 0
    active_ms: list = field(default_factory=list)
    ious: list = field(default_factory=list)


class DatasetAgreement:
    """Accumulate images one at a time and return the dataset's figures.

    Memory grows with the number of images and annotator pairs (the figures returned), not
    with the masks: each image's masks are compared and dropped.
    """

    def __init__(self, categories: Sequence[str]):
        self.categories = list(categories)
        self.images: list[dict] = []
        self.choice_table: list[list[int]] = []
        self.ious: list[float] = []
        self.dices: list[float] = []
        self.annotators: dict[int, _AnnotatorTally] = {}
        self.active_ms: list[int] = []

    def add_image(self, image: dict, answers: Sequence[Answer]) -> dict:
        """Add one image's answers; return its figures (without the pairs) as listed in the result."""
        figures = image_agreement(answers, ground_truth=image.get("ground_truth"), with_pairs=True)
        pairs = figures.pop("pairs")
        for pair in pairs:
            if pair["iou"] is not None:
                self.ious.append(pair["iou"])
                self.dices.append(pair["dice"])
        counts = Counter(a.label for a in answers if a.label is not None)
        if sum(counts.values()) >= 2:
            known = set(self.categories)
            extra = sorted(set(counts) - known)  # answers outside the choices (choices edited later)
            self.categories += extra
            self.choice_table.append([counts.get(c, 0) for c in self.categories])
        truth = image.get("ground_truth")
        for answer in answers:
            tally = self.annotators.setdefault(answer.annotator_id, _AnnotatorTally(answer.annotator))
            tally.annotations += 1
            tally.active_ms.append(answer.active_ms)
            if answer.label is not None and truth not in (None, ""):
                tally.judged += 1
                tally.correct += answer.label == truth
            self.active_ms.append(answer.active_ms)
        for pair in pairs:
            if pair["iou"] is not None:
                for annotator_id in pair["annotators"]:
                    self.annotators[annotator_id].ious.append(pair["iou"])
        # Each pair's IoU, so the Review page's histogram can show the images behind a bar of pairs.
        entry = {**image, **figures, "pair_ious": [p["iou"] for p in pairs if p["iou"] is not None]}
        self.images.append(entry)
        return entry

    def result(self) -> dict:
        """Return the dataset's figures: overall, per annotator, per image."""
        width = len(self.categories)
        table = [row + [0] * (width - len(row)) for row in self.choice_table]
        judged = sum(t.judged for t in self.annotators.values())
        correct = sum(t.correct for t in self.annotators.values())
        return {
            "annotations": sum(t.annotations for t in self.annotators.values()),
            "images_annotated": len(self.images),
            "annotators_count": len(self.annotators),
            "categories": self.categories,
            "fleiss_kappa": fleiss_kappa(table),
            "images_with_two_answers": len(table),
            "accuracy": _ratio(correct, judged),
            "correct": correct,
            "judged": judged,
            "iou": summary(self.ious),
            "dice": summary(self.dices),
            "iou_histogram": histogram(self.ious),
            "active_ms": summary(self.active_ms),
            "annotators": [
                {
                    "id": annotator_id,
                    "username": tally.username,
                    "annotations": tally.annotations,
                    "correct": tally.correct,
                    "judged": tally.judged,
                    "accuracy": _ratio(tally.correct, tally.judged),
                    "active_ms": summary(tally.active_ms),
                    "iou_with_others": summary(tally.ious),
                }
                for annotator_id, tally in sorted(self.annotators.items(), key=lambda item: item[1].username)
            ],
            "images": self.images,
        }
