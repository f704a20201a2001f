"""WhiteNoise, serving collected files when collectstatic has run and files in place until then."""

import os

from django.conf import settings
from whitenoise.middleware import WhiteNoiseMiddleware


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """Serve STATIC_ROOT once ``collectstatic`` has filled it (production: compressed, hashed copies).

    Before that (runserver, tests, a fresh clone with only ``npm run build``), STATIC_ROOT does
    not exist: rather than warn "No directory at ..." and serve nothing, find the files where
    they are (dist/ and the apps' static/ folders), as WhiteNoise does under DEBUG.
    """

    def __init__(self, *args, **kwargs):
        # Decided before WhiteNoise scans its directories (in its __init__).
        self._collected = bool(settings.STATIC_ROOT) and os.path.isdir(settings.STATIC_ROOT)
        super().__init__(*args, **kwargs)

    def add_files(self, root, prefix=None):
        if not self._collected and os.path.abspath(root) == os.path.abspath(settings.STATIC_ROOT):
            self.use_finders = True  # nothing collected yet: serve from the finders instead
            return
        super().add_files(root, prefix)
