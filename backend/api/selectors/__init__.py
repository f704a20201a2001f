"""Every read EyeTagger makes. Views call these; querysets are shaped here so no view causes N+1 queries."""

from .annotations import annotation_for, annotation_list, revision_list
from .datasets import dataset_list, dataset_progress, image_list, next_image_for
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
    "dataset_list",
    "dataset_progress",
    "image_list",
    "next_image_for",
    "revision_list",
]
