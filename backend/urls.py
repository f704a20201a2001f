"""URLs: the REST API, its documentation and Django admin under /api/; the SPA everywhere else."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import spa

urlpatterns = [
    path("api/admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file, so no inline script is needed (CSP).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
    path("api/", include("backend.api.urls")),
    path("sw.js", spa.service_worker, name="service-worker"),
    # Every other path that is not the API or a static file is a route of the SPA.
    re_path(r"^(?!api/|static/)(?P<path>.*)$", spa.index, name="spa"),
]

# Errors Django answers itself (no such endpoint, a malformed request, a crash) are the API's
# JSON error shape under /api/, and Django's own pages elsewhere; a database that is away is a
# 503 everywhere. Used when DEBUG is off.
handler400 = "backend.api.exceptions.bad_request"
handler403 = "backend.api.exceptions.permission_denied"
handler404 = "backend.api.exceptions.page_not_found"
handler500 = "backend.api.exceptions.server_error"
