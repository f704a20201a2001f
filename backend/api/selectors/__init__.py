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
from .research import (
    Export,
    Selection,
    annotation_document,
    annotation_selection,
    dataset_export,
    dataset_stats,
    image_saliency,
    image_stats,
    saliency_etag,
    stats_etag,
)

__all__ = [
    "Export",
    "Selection",
    "annotation_document",
    "annotation_selection",
    "dataset_export",
    "dataset_stats",
    "image_saliency",
    "image_stats",
    "saliency_etag",
    "stats_etag",
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
