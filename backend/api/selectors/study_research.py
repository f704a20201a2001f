"""Reads for a study's researchers: its dashboard, and its saliency maps and agreement per condition.

The maps of an image under a condition are the masks of its submitted annotation-phase trials
under that condition, by participants who count (not excluded, not test participants): their
mean (``saliency.HeatMap``), its split-half reliability, the masks' mean pairwise IoU and Dice,
and CC and KL between conditions. ``map_file`` and ``stats_files`` are the files the API serves and
``manage.py export_study_maps`` writes, made once, here.
"""

import statistics
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import combinations

import numpy as np
from django.db.models import Count
from django.db.models.functions import TruncDate

from .. import agreement, exporting, masks, saliency
from ..models import Image, Participant, Step, Study, Trial

SPLITS = 10  # random split-halves per image and condition


def _counted_trials(study: Study):
    """Return the study's submitted annotation-phase trials by participants who count."""
    return Trial.objects.filter(
        participant__study=study,
        kind=Trial.Kind.MAIN,
        status=Trial.Status.SUBMITTED,
        participant__excluded=False,
        participant__is_test=False,
    )


def condition_masks(*, study: Study, image: Image) -> dict[str, list[np.ndarray]]:
    """Return the image's masks by condition slug (trials without a condition under "")."""
    by_condition: dict[str, list[np.ndarray]] = {}
    rows = (
        _counted_trials(study)
        .filter(image=image)
        .order_by("condition__position", "participant__number")
        .values_list("condition__slug", "annotation__mask_rle")
    )
    for slug, rle in rows.iterator(chunk_size=500):
        mask = masks.rle_decode(rle, image.width, image.height) if rle else np.zeros((image.height, image.width), bool)
        by_condition.setdefault(slug or "", []).append(mask)
    return by_condition


def condition_map(*, study: Study, image: Image, condition: str, sigma: float = 0.0) -> tuple[np.ndarray, int]:
    """Return the image's mean map under a condition (float32 in [0, 1]) and how many masks it averages."""
    found = condition_masks(study=study, image=image).get(condition, [])
    return saliency.heat_map(found, image.width, image.height, sigma=sigma), len(found)


def image_condition_stats(*, study: Study, image: Image, sigma: float = 0.0, by_condition: dict | None = None) -> dict:
    """Return an image's figures per condition (masks, split-half reliability) and per pair (CC, KL both ways)."""
    by_condition = condition_masks(study=study, image=image) if by_condition is None else by_condition
    slugs = [slug for slug in _condition_order(study) if slug in by_condition]
    means = {slug: saliency.heat_map(by_condition[slug], image.width, image.height, sigma=sigma) for slug in slugs}
    conditions = [
        {
            "condition": slug,
            "masks": len(by_condition[slug]),
            "split_half": saliency.split_half(
                by_condition[slug], image.width, image.height, seed=study.seed + image.pk, splits=SPLITS, sigma=sigma
            ),
            **_overlap(by_condition[slug]),
        }
        for slug in slugs
    ]
    pairs = [
        {
            "a": a,
            "b": b,
            "cc": saliency.correlation(means[a], means[b]),
            "kl_a_b": saliency.kl_divergence(means[a], means[b]),
            "kl_b_a": saliency.kl_divergence(means[b], means[a]),
        }
        for a, b in combinations(slugs, 2)
    ]
    return {"image": image.pk, "conditions": conditions, "pairs": pairs}


def _overlap(found: list[np.ndarray]) -> dict:
    overlap = agreement.mean_pairwise_overlap(found)
    return {"iou": overlap["iou"], "dice": overlap["dice"]}


def _condition_order(study: Study) -> list[str]:
    return [*study.conditions.order_by("position").values_list("slug", flat=True), ""]


def study_image(*, study: Study, image_id: int) -> Image | None:
    """Return an image of the study's annotation phases that someone who counts submitted, or None."""
    if not _counted_trials(study).filter(image_id=image_id).exists():
        return None
    return Image.objects.get(pk=image_id)


def stats_table(figures: dict) -> tuple[list[str], Iterator[list]]:
    """Return ``study_condition_stats`` as a table: a row per image and condition, CC and KL with the others."""
    slugs = [row["condition"] for row in figures["conditions"]]
    header = ["image_id", "condition", "masks", "split_half_r", "spearman_brown"]
    for other in slugs:
        header += [f"cc_with_{other or 'none'}", f"kl_to_{other or 'none'}"]
    header += ["pairwise_iou", "pairwise_dice"]

    def rows():
        for image in figures["per_image"]:
            pairs = {}
            for pair in image["pairs"]:
                pairs[(pair["a"], pair["b"])] = (pair["cc"], pair["kl_a_b"])
                pairs[(pair["b"], pair["a"])] = (pair["cc"], pair["kl_b_a"])
            for row in image["conditions"]:
                half = row["split_half"] or {}
                cells = [
                    image["image"],
                    row["condition"] or None,
                    row["masks"],
                    half.get("r"),
                    half.get("spearman_brown"),
                ]
                for other in slugs:
                    cells += list(pairs.get((row["condition"], other), (None, None)))
                yield [*cells, row["iou"], row["dice"]]

    return header, rows()


def study_images(study: Study) -> Iterator[Image]:
    """Yield the images the study's counted annotation-phase trials are on, in id order."""
    ids = _counted_trials(study).order_by().values_list("image_id", flat=True).distinct()
    yield from Image.objects.filter(pk__in=ids).order_by("pk").iterator(chunk_size=200)


def study_condition_stats(*, study: Study, sigma: float = 0.0) -> dict:
    """Return the figures of every image of the study, and their means per condition and per pair of conditions."""
    images = [image_condition_stats(study=study, image=image, sigma=sigma) for image in study_images(study)]
    per_condition: dict[str, list[float]] = {}
    overlaps: dict[str, dict[str, list[float]]] = {}
    masks_per_condition: Counter = Counter()
    per_pair: dict[tuple[str, str], dict[str, list[float]]] = {}
    for figures in images:
        for row in figures["conditions"]:
            masks_per_condition[row["condition"]] += row["masks"]
            if row["split_half"] is not None:
                per_condition.setdefault(row["condition"], []).append(row["split_half"]["r"])
            for key in ("iou", "dice"):
                if row[key] is not None:
                    overlaps.setdefault(row["condition"], {"iou": [], "dice": []})[key].append(row[key])
        for pair in figures["pairs"]:
            values = per_pair.setdefault((pair["a"], pair["b"]), {"cc": [], "kl_a_b": [], "kl_b_a": []})
            for key in values:
                if pair[key] is not None:
                    values[key].append(pair[key])
    return {
        "images": len(images),
        "conditions": [
            {
                "condition": slug,
                "masks": masks_per_condition[slug],
                "split_half_r": _mean(per_condition.get(slug, [])),
                "images_with_split_half": len(per_condition.get(slug, [])),
                "iou": _mean(overlaps.get(slug, {}).get("iou", [])),
                "dice": _mean(overlaps.get(slug, {}).get("dice", [])),
            }
            for slug in _condition_order(study)
            if masks_per_condition[slug]
        ],
        "pairs": [
            {"a": a, "b": b, "images": len(v["cc"]), **{key: _mean(values) for key, values in v.items()}}
            for (a, b), v in per_pair.items()
        ],
        "per_image": images,
    }


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def stats_csv(figures: dict) -> Iterator[str]:
    """Yield ``study_condition_stats`` as the CSV the API downloads (``stats_table``, cells spreadsheet-safe)."""
    header, rows = stats_table(figures)
    return exporting.csv_table(header, rows)


# --- Map files ---------------------------------------------------------------------------------------

MAP_FORMATS = ("png", "npy")


def map_file(
    *, study: Study, image: Image, condition: str, minus: str | None = None, sigma: float = 0.0, fmt: str = "png",
    by_condition: dict | None = None,
) -> tuple[str, bytes]:  # fmt: skip
    """Return (file name, bytes) of an image's mean map under a condition, or of its difference from ``minus``'s.

    PNG: grey, the fraction of the condition's participants who marked each pixel; a difference in
    red (more under ``condition``) and blue (less). NPY: float32, a difference in -1..1.
    """
    by_condition = condition_masks(study=study, image=image) if by_condition is None else by_condition

    def mean(slug):
        return saliency.heat_map(by_condition.get(slug, []), image.width, image.height, sigma=sigma)

    heat, name = mean(condition), condition
    if minus:
        heat, name = heat - mean(minus), f"{condition}-minus-{minus}"
    if fmt == "npy":
        data = saliency.heat_npy(heat)
    else:
        data = saliency.difference_png(heat) if minus else saliency.heat_png(heat)
    return f"{image.sha256[:8]}-{name}.{fmt}", data


def image_map_files(
    *, study: Study, image: Image, sigma: float = 0.0, formats=MAP_FORMATS
) -> Iterator[tuple[str, bytes]]:
    """Yield every map file of an image: its mean map under each condition, and each pair's difference (a - b)."""
    by_condition = condition_masks(study=study, image=image)
    slugs = [slug for slug in _condition_order(study) if slug and slug in by_condition]
    asked = [(slug, None) for slug in slugs] + list(combinations(slugs, 2))
    for condition, minus in asked:
        for fmt in formats:
            yield map_file(
                study=study, image=image, condition=condition, minus=minus, sigma=sigma, fmt=fmt,
                by_condition=by_condition,
            )  # fmt: skip


# --- The dashboard ---------------------------------------------------------------------------------


def study_dashboard(*, study: Study, now: datetime) -> dict:
    """Return the study at a glance: enrolment over time, where participants are, completion and drop-out, conditions,
    catch failures, median times."""
    participants = study.participants.filter(is_test=False)
    rows = list(
        participants.values_list(
            "status",
            "enrolled_at",
            "completed_at",
            "step_index",
            "sequence",
            "condition__slug",
            "excluded",
            "flagged",
            "catch_judged",
        )  # fmt: skip
    )
    steps = Step.objects.filter(study=study).in_bulk()
    tally = _tally_participants(rows, study=study, now=now)
    image_ms = list(
        _counted_trials(study).exclude(annotation=None).values_list("annotation__active_ms", flat=True)[:100_000]
    )
    return {
        "status": study.status,
        "participants": _participant_counts(study, tally, enrolled=len(rows)),
        "rates": _rates(tally.statuses, enrolled=len(rows)),
        "enrolment": _enrolment(participants),
        "steps": [
            {"step": pk, "title": step.title, "kind": step.kind, "position": step.position, "active": tally.at_step[pk]}
            for pk, step in sorted(steps.items(), key=lambda item: item[1].position)
        ],
        "conditions": _condition_counts(tally.per_condition),
        "catch": {
            "judged_participants": sum(1 for row in rows if row[8]),
            "flagged": sum(c["flagged"] for c in tally.per_condition.values()),
        },
        "times": {
            "median_total_seconds": statistics.median(tally.total_seconds) if tally.total_seconds else None,
            "median_image_ms": statistics.median(image_ms) if image_ms else None,
        },
    }


@dataclass
class _Tally:
    statuses: Counter  # participants by state (a participant past the study's time limit counts as timed_out)
    at_step: Counter  # active participants by the pk of the step they are on
    per_condition: dict[str, Counter]  # states, excluded and flagged by condition slug ("" for none)
    total_seconds: list[float]  # enrolment to completion, of each completed participant


def _tally_participants(rows: list[tuple], *, study: Study, now: datetime) -> _Tally:
    """Count the dashboard's participant rows by state, current step and condition; collect their total times."""
    tally = _Tally(statuses=Counter(), at_step=Counter(), per_condition={}, total_seconds=[])
    limit = study.time_limit_minutes
    for status, enrolled_at, completed_at, step_index, sequence, condition, excluded, flagged, _ in rows:
        late = status == Participant.Status.ACTIVE and limit and enrolled_at < now - timedelta(minutes=limit)
        state = "timed_out" if late else status
        tally.statuses[state] += 1
        if state == Participant.Status.ACTIVE and sequence:
            tally.at_step[sequence[min(step_index, len(sequence) - 1)]] += 1
        counts = tally.per_condition.setdefault(condition or "", Counter())
        counts[state] += 1
        counts["excluded"] += int(excluded)
        counts["flagged"] += int(flagged)
        if completed_at is not None:
            tally.total_seconds.append((completed_at - enrolled_at).total_seconds())
    return tally


def _participant_counts(study: Study, tally: _Tally, *, enrolled: int) -> dict:
    """Return the dashboard's participant counts by state, and those excluded, flagged, declined and deleted."""
    statuses = tally.statuses
    return {
        "enrolled": enrolled,
        "active": statuses["active"],
        "completed": statuses["completed"],
        "withdrawn": statuses["withdrawn"],
        "timed_out": statuses["timed_out"],
        "excluded": sum(c["excluded"] for c in tally.per_condition.values()),
        "flagged": sum(c["flagged"] for c in tally.per_condition.values()),
        "declined": study.declined_count,
        "deleted": study.deleted_count,
    }


def _rates(statuses: Counter, *, enrolled: int) -> dict:
    """Return the completion and drop-out (withdrawn or timed out) rates of the enrolled, or None with none enrolled."""
    dropped = statuses["withdrawn"] + statuses["timed_out"]
    return {
        "completion": statuses["completed"] / enrolled if enrolled else None,
        "drop_out": dropped / enrolled if enrolled else None,
    }


def _enrolment(participants) -> list[dict]:
    """Return how many participants enrolled each day, in date order."""
    return [
        {"date": day.isoformat(), "enrolled": n}
        for day, n in participants.annotate(day=TruncDate("enrolled_at"))
        .order_by("day")
        .values_list("day")
        .annotate(n=Count("pk"))
    ]


def _condition_counts(per_condition: dict[str, Counter]) -> list[dict]:
    """Return each condition's participants, completed, excluded and flagged, by slug (None for no condition)."""
    return [
        {
            "condition": slug or None,
            "participants": sum(counts[s] for s in ("active", "completed", "withdrawn", "timed_out")),
            "completed": counts["completed"],
            "excluded": counts["excluded"],
            "flagged": counts["flagged"],
        }
        for slug, counts in sorted(per_condition.items())
    ]
