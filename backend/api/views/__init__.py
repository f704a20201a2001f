"""The REST API: thin views that validate input, call a service or selector, and serialize the output."""

from .annotations import AnnotationViewSet
from .auth import CsrfApi, LoginApi, LogoutApi, MeApi, TokenLoginApi, TokenLogoutApi
from .datasets import DatasetViewSet
from .exports import DatasetExportApi
from .health import HealthApi
from .images import ImageViewSet
from .masks import AnnotationMaskPngApi, AnnotationMaskSvgApi, AnnotationStrokesJsonApi
from .participation import (
    EnrolApi,
    ParticipationApi,
    ParticipationStepApi,
    ParticipationTrialsApi,
    ParticipationWithdrawApi,
    StepExampleApi,
    TrialAnnotationApi,
    TrialApi,
    TrialFeedbackApi,
    TrialImageApi,
    TrialReferenceMaskApi,
    TrialSaliencyApi,
)
from .saliency import ImageSaliencyNpyApi, ImageSaliencyOverlayApi, ImageSaliencyPngApi
from .stats import DatasetStatsApi, ImageStatsApi
from .studies import StudyImageMapNpyApi, StudyImageMapPngApi, StudyViewSet

__all__ = [
    "EnrolApi",
    "ParticipationApi",
    "ParticipationStepApi",
    "ParticipationTrialsApi",
    "ParticipationWithdrawApi",
    "StepExampleApi",
    "StudyImageMapNpyApi",
    "StudyImageMapPngApi",
    "StudyViewSet",
    "TrialAnnotationApi",
    "TrialApi",
    "TrialFeedbackApi",
    "TrialImageApi",
    "TrialReferenceMaskApi",
    "TrialSaliencyApi",
    "AnnotationMaskPngApi",
    "AnnotationMaskSvgApi",
    "AnnotationStrokesJsonApi",
    "AnnotationViewSet",
    "CsrfApi",
    "DatasetExportApi",
    "DatasetStatsApi",
    "DatasetViewSet",
    "HealthApi",
    "ImageSaliencyNpyApi",
    "ImageSaliencyOverlayApi",
    "ImageSaliencyPngApi",
    "ImageStatsApi",
    "ImageViewSet",
    "LoginApi",
    "LogoutApi",
    "MeApi",
    "TokenLoginApi",
    "TokenLogoutApi",
]
