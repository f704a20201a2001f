"""Every write EyeTagger makes, named <entity>_<action>: keyword-only, atomic, validated before saving."""

from .annotations import AnnotationContent, VersionConflict, annotation_restore, annotation_save, mask_encode
from .datasets import ImportReport, apply_import_plan, dataset_import, dataset_missing_parts, dataset_root_of
from .users import user_create, user_set_role

__all__ = [
    "AnnotationContent",
    "ImportReport",
    "VersionConflict",
    "annotation_restore",
    "annotation_save",
    "apply_import_plan",
    "dataset_import",
    "dataset_missing_parts",
    "dataset_root_of",
    "mask_encode",
    "user_create",
    "user_set_role",
]
