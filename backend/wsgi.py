"""WSGI entry point, for Gunicorn: ``gunicorn backend.wsgi``."""

import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
application = get_wsgi_application()

# Load the URLconf, and with it every view, now rather than at the first request; then move all
# that is loaded (over 100,000 long-lived objects: modules, classes, functions) out of the garbage
# collector's reach. Every save parses and builds thousands of lists, so collections run often,
# and each full one walked all of these objects again: about a third of a save's CPU time, and
# pauses of a large fraction of a second in some unlucky request (docs/BENCHMARKS.md).
get_resolver().url_patterns  # noqa: B018  (evaluated for its side effect: importing the views)
gc.freeze()
