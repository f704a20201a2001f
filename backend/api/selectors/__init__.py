"""Every read EyeTagger makes. Views call these; querysets are shaped here so no view causes N+1 queries."""

from .annotations import annotation_for, annotation_list, revision_list
from .datasets import dataset_list, dataset_progress, image_list, next_image_for

__all__ = [
    "annotation_for",
    "annotation_list",
    "dataset_list",
    "dataset_progress",
    "image_list",
    "next_image_for",
    "revision_list",
]
