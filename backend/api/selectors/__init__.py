"""Every read EyeTagger makes. Views call these; querysets are shaped here so no view causes N+1 queries."""

from .annotations import annotation_for, annotation_list, revision_list
from .datasets import dataset_list, image_list, visible_datasets
from .progress import (
    annotator_progress,
    dataset_progress,
    dataset_summary,
    eligible_annotator_count,
    expected_total,
    leased_count,
    progress_of,
)

__all__ = [
    "annotation_for",
    "annotation_list",
    "annotator_progress",
    "dataset_list",
    "dataset_progress",
    "dataset_summary",
    "eligible_annotator_count",
    "expected_total",
    "image_list",
    "leased_count",
    "progress_of",
    "revision_list",
    "visible_datasets",
]
