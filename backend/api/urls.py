from django.urls import path
from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter()
router.register("datasets", views.DatasetViewSet, basename="dataset")
router.register("images", views.ImageViewSet, basename="image")
router.register("annotations", views.AnnotationViewSet, basename="annotation")
router.register("studies", views.StudyViewSet, basename="study")

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
    # Studies: enrolling by the link (anyone), and the participation API (study participants only).
    path("studies/<slug:slug>/enrol/", views.EnrolApi.as_view(), name="study-enrol"),
    path("participation/", views.ParticipationApi.as_view(), name="participation"),
    path("participation/steps/<int:index>/", views.ParticipationStepApi.as_view(), name="participation-step"),
    path("participation/withdraw/", views.ParticipationWithdrawApi.as_view(), name="participation-withdraw"),
    path("participation/trials/", views.ParticipationTrialsApi.as_view(), name="participation-trials"),
    path("participation/images/<int:pk>/", views.TrialApi.as_view(), name="participation-trial"),
    path(
        "participation/images/<int:pk>/annotation/", views.TrialAnnotationApi.as_view(), name="participation-annotation"
    ),
    path("participation/images/<int:pk>/file", views.TrialImageApi.as_view(), name="participation-image"),
    path("participation/images/<int:pk>/ai-saliency", views.TrialSaliencyApi.as_view(), name="participation-saliency"),
    path("participation/images/<int:pk>/feedback/", views.TrialFeedbackApi.as_view(), name="participation-feedback"),
    path(
        "participation/images/<int:pk>/reference-mask",
        views.TrialReferenceMaskApi.as_view(),
        name="participation-reference-mask",
    ),
    path(
        "participation/steps/<int:step>/examples/<str:name>",
        views.StepExampleApi.as_view(),
        name="participation-example",
    ),
    path(
        "studies/<int:pk>/images/<int:image_id>/saliency.png",
        views.StudyImageMapPngApi.as_view(),
        name="study-image-saliency-png",
    ),
    path(
        "studies/<int:pk>/images/<int:image_id>/saliency.npy",
        views.StudyImageMapNpyApi.as_view(),
        name="study-image-saliency-npy",
    ),
    *router.urls,
]
