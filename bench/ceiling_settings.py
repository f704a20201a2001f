"""Settings for bench/save_load.py only: EyeTagger's own settings, with the ceiling endpoint added.

Never used in production: nothing but the benchmark sets DJANGO_SETTINGS_MODULE to this module.
Everything else (middleware, authentication, permissions, the database) stays as configured by
the environment, so the ceiling runs through the same stack as the save it is compared with.
The one addition, a middleware outside all the others, reports in two response headers the CPU
time the request took in its thread and the garbage collector's part of it (bench/ceiling_urls.py).
"""

from backend.settings import *  # noqa: F403  (the production settings, unchanged but for the URLconf)
from backend.settings import MIDDLEWARE

ROOT_URLCONF = "bench.ceiling_urls"
MIDDLEWARE = ["bench.ceiling_urls.ThreadCpuMiddleware", *MIDDLEWARE]
