from django.urls import path
from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter()
router.register("datasets", views.DatasetViewSet, basename="dataset")
router.register("images", views.ImageViewSet, basename="image")
router.register("annotations", views.AnnotationViewSet, basename="annotation")

urlpatterns = [
    path("auth/login/", views.LoginApi.as_view(), name="login"),
    path("auth/logout/", views.LogoutApi.as_view(), name="logout"),
    path("auth/me/", views.MeApi.as_view(), name="me"),
    path("auth/csrf/", views.CsrfApi.as_view(), name="csrf"),
    path("auth/token/login/", views.TokenLoginApi.as_view(), name="token-login"),
    path("auth/token/logout/", views.TokenLogoutApi.as_view(), name="token-logout"),
    path("health/", views.HealthApi.as_view(), name="health"),
    # Research outputs. Files are named by their extension, without a trailing slash.
    path("annotations/<int:pk>/mask.png", views.AnnotationMaskPngApi.as_view(), name="annotation-mask-png"),
    path("annotations/<int:pk>/mask.svg", views.AnnotationMaskSvgApi.as_view(), name="annotation-mask-svg"),
    path("annotations/<int:pk>/strokes.json", views.AnnotationStrokesJsonApi.as_view(), name="annotation-strokes"),
    path("images/<int:pk>/saliency.png", views.ImageSaliencyPngApi.as_view(), name="image-saliency-png"),
    path(
        "images/<int:pk>/saliency-overlay.png", views.ImageSaliencyOverlayApi.as_view(), name="image-saliency-overlay"
    ),
    path("images/<int:pk>/saliency.npy", views.ImageSaliencyNpyApi.as_view(), name="image-saliency-npy"),
    path("images/<int:pk>/stats/", views.ImageStatsApi.as_view(), name="image-stats"),
    path("datasets/<int:pk>/export/", views.DatasetExportApi.as_view(), name="dataset-export"),
    path("datasets/<int:pk>/stats/", views.DatasetStatsApi.as_view(), name="dataset-stats"),
    *router.urls,
]
