"""Serve the single-page app: dist/index.html at / and at every SPA route, and its service worker.

The SPA's assets are static files under /static/ (Vite's ``base``), served by WhiteNoise;
only the HTML entry point and the service worker (which must live at the site's root to
control every page) come from these views.
"""

from pathlib import Path

from django.conf import settings
from django.http import FileResponse, HttpResponse
from django.utils.cache import patch_cache_control
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_safe

_MISSING = (
    "<!doctype html><meta charset=utf-8><title>EyeTagger</title>"
    "<p>The annotation app is not built yet: run <code>npm ci &amp;&amp; npm run build</code> "
    "(or <code>make run</code>), then reload. The API is at <a href=/api/docs/>/api/docs/</a>."
)


def _built(name: str) -> Path | None:
    path = Path(settings.SPA_DIST_DIR) / name
    return path if path.is_file() else None


@require_safe
@ensure_csrf_cookie
def index(request, path=""):
    """Return the SPA's index.html, never cached, so a new build is picked up at once."""
    built = _built("index.html")
    if built is None:
        response = HttpResponse(_MISSING, status=503)
    else:
        response = HttpResponse(built.read_bytes(), content_type="text/html; charset=utf-8")
    patch_cache_control(response, no_cache=True, private=True)
    return response


@require_safe
def service_worker(request):
    """Return the service worker that keeps the app shell and images for working offline."""
    built = _built("sw.js")
    if built is None:
        return HttpResponse("// no service worker in this build\n", content_type="text/javascript", status=404)
    response = FileResponse(built.open("rb"), content_type="text/javascript")
    patch_cache_control(response, no_cache=True)
    return response
