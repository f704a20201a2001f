"""Every read EyeTagger makes. Views call these; querysets are shaped here so no view causes N+1 queries."""

from .annotations import annotation_for, annotation_list, revision_list
from .datasets import dataset_list, image_list, visible_datasets
from .progress import (
    annotator_progress,
    dataset_progress,
    dataset_summary,
    expected_total,
    handout_progress,
    leased_count,
    progress_of,
)
from .queue import (
    QueueCounts,
    annotator_share,
    eligible_annotator_count,
    is_test_user,
    queue_check,
    queue_counts,
    share_of,
)
from .research import (
    Export,
    Selection,
    annotation_csv,
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
    "QueueCounts",
    "Selection",
    "annotation_csv",
    "annotation_document",
    "annotation_selection",
    "annotator_share",
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
    "handout_progress",
    "image_list",
    "is_test_user",
    "leased_count",
    "progress_of",
    "queue_check",
    "queue_counts",
    "revision_list",
    "share_of",
    "visible_datasets",
]
