"""The REST API: thin views that validate input, call a service or selector, and serialize the output."""

from .annotations import AnnotationViewSet
from .auth import CsrfApi, LoginApi, LogoutApi, MeApi, TokenLoginApi, TokenLogoutApi
from .datasets import DatasetViewSet
from .health import HealthApi
from .images import ImageViewSet

__all__ = [
    "AnnotationViewSet",
    "CsrfApi",
    "DatasetViewSet",
    "HealthApi",
    "ImageViewSet",
    "LoginApi",
    "LogoutApi",
    "MeApi",
    "TokenLoginApi",
    "TokenLogoutApi",
]
