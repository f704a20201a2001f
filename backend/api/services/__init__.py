"""Every write EyeTagger makes, named <entity>_<action>: keyword-only, atomic, validated before saving."""

from .annotations import (
    AnnotationChange,
    AnnotationContent,
    VersionConflict,
    annotation_change,
    annotation_restore,
    annotation_save,
    mask_encode,
)
from .datasets import (
    ImportReport,
    apply_import_plan,
    dataset_import,
    dataset_missing_parts,
    dataset_root_of,
)
from .original import OriginalImportReport, original_import
from .participants import (
    Enrolment,
    StepDone,
    participant_complete_step,
    participant_delete,
    participant_enrol,
    participant_set_excluded,
    participant_withdraw,
)
from .queue import Handout, ImageUnavailable, queue_next, queue_recount, queue_skip, release_expired_leases
from .studies import StudyImportReport, StudyRefusal, study_import, study_set_status
from .tokens import api_token_create, api_token_revoke, api_token_sign_in
from .trials import TrialBatch, trial_change, trial_hand_out, trial_save
from .uploads import DatasetUploadFailed, dataset_import_zip
from .users import NewAccount, user_create, user_set_role, user_set_test, users_create_from_csv

__all__ = [
    "api_token_create",
    "api_token_revoke",
    "api_token_sign_in",
    "Enrolment",
    "StepDone",
    "StudyImportReport",
    "StudyRefusal",
    "TrialBatch",
    "participant_complete_step",
    "participant_delete",
    "participant_enrol",
    "participant_set_excluded",
    "participant_withdraw",
    "study_import",
    "study_set_status",
    "trial_hand_out",
    "trial_change",
    "trial_save",
    "AnnotationChange",
    "AnnotationContent",
    "DatasetUploadFailed",
    "Handout",
    "ImageUnavailable",
    "ImportReport",
    "NewAccount",
    "OriginalImportReport",
    "VersionConflict",
    "annotation_restore",
    "annotation_change",
    "annotation_save",
    "apply_import_plan",
    "dataset_import",
    "dataset_import_zip",
    "dataset_missing_parts",
    "dataset_root_of",
    "mask_encode",
    "original_import",
    "queue_next",
    "queue_recount",
    "queue_skip",
    "release_expired_leases",
    "user_create",
    "user_set_role",
    "user_set_test",
    "users_create_from_csv",
]
