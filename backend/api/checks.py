"""Deployment checks (``manage.py check --deploy``) for what Django's own checks cannot know."""

from django.conf import settings
from django.core.checks import Tags, Warning, register

LOCAL_CACHES = ("django.core.cache.backends.locmem.LocMemCache", "django.core.cache.backends.dummy.DummyCache")


@register(Tags.security, deploy=True)
def check_shared_cache(app_configs, **kwargs):
    """Warn when the cache, which counts sign-in attempts, is not shared between processes."""
    backend = settings.CACHES["default"]["BACKEND"]
    if backend in LOCAL_CACHES:
        return [
            Warning(
                f"The default cache is {backend.rsplit('.', 1)[-1]}: each Gunicorn worker counts sign-in "
                "attempts on its own, so the login rate limit is multiplied by the number of workers.",
                hint="Set CACHE_URL=dbcache://eyetagger_cache (the production default) or a redis:// URL.",
                id="eyetagger.W001",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_proxy_ssl_header(app_configs, **kwargs):
    """Warn when HTTPS redirects are on but Django cannot see that Nginx received HTTPS."""
    if settings.SECURE_SSL_REDIRECT and not getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        return [
            Warning(
                "SECURE_SSL_REDIRECT is on but SECURE_PROXY_SSL_HEADER is not set: behind Nginx terminating "
                "TLS, Django sees plain HTTP and redirects every request to HTTPS, forever.",
                hint="Set SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO,https (env/django.env.example does).",
                id="eyetagger.W002",
            )
        ]
    return []
