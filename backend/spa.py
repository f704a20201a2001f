"""Serve the single-page app: dist/index.html at / and at every SPA route, and its service worker.

The SPA's assets are static files under /static/ (Vite's ``base``), served by WhiteNoise or
Nginx; only the HTML entry point and the service worker (which must live at the site's root
to control every page) come from these views.
"""

from functools import lru_cache

from django.conf import settings
from django.http import FileResponse, HttpResponse
from django.utils.cache import patch_cache_control
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_safe

NOT_BUILT = (
    "EyeTagger's web app is not built: {path} is missing. Run `npm ci && npm run build` (or `make run`), "
    "or use the Docker image, which builds it. The API is at /api/docs/.\n"
)


@require_safe
@ensure_csrf_cookie
def index(request, path=""):
    """Return the SPA's index.html, never cached, with the csrftoken cookie set for signing in."""
    html = _read_index_html() if settings.DEBUG else _index_html()
    if html is None:
        return HttpResponse(
            NOT_BUILT.format(path=settings.SPA_DIST_DIR / "index.html"), status=503, content_type="text/plain"
        )
    response = HttpResponse(html, content_type="text/html; charset=utf-8")
    # The shell names the current hashed assets: browsers must revalidate it on every visit.
    patch_cache_control(response, no_cache=True, private=True)
    return response


@require_safe
def service_worker(request):
    """Return the service worker that keeps the app shell and images for working offline."""
    path = settings.SPA_DIST_DIR / "sw.js"
    if not path.is_file():
        return HttpResponse("// no service worker in this build\n", content_type="text/javascript", status=404)
    response = FileResponse(path.open("rb"), content_type="text/javascript")
    patch_cache_control(response, no_cache=True)
    return response


@lru_cache(maxsize=1)
def _index_html() -> str | None:
    return _read_index_html()


def _read_index_html() -> str | None:
    try:
        html = (settings.SPA_DIST_DIR / "index.html").read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    if settings.STATIC_URL != "/static/":
        # Vite builds with base "/static/"; with DJANGO_STATIC_HOST the assets come from the CDN.
        html = html.replace('="/static/', f'="{settings.STATIC_URL}')
    return html
