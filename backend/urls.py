"""URLs: the REST API, its documentation and Django admin under /api/; the SPA everywhere else."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from .spa import spa_index

urlpatterns = [
    path("api/admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file, so no inline script is needed (CSP).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
    path("api/", include("backend.api.urls")),
    # Every other path is a route of the single-page app (static files are served before Django sees them).
    re_path(r"^(?!api/|static/)(?P<path>.*)$", spa_index, name="spa"),
]
