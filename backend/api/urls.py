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
    *router.urls,
]
