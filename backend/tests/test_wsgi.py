"""The WSGI entry point Gunicorn loads."""

import subprocess
import sys

from django.conf import settings

PROBE = """
import gc, sys
import backend.wsgi
print(gc.get_freeze_count(), "backend.api.views.images" in sys.modules)
"""


def test_the_wsgi_module_loads_every_view_and_freezes_what_it_loaded():
    # In a child process: freezing the test process's own objects would keep them for its whole life.
    env = {"DEBUG": "false", "SECRET_KEY": "test-only", "EYETAGGER_ENV_FILES": "", "PATH": "/usr/bin:/bin"}
    env["DATABASE_URL"] = f"sqlite:///{settings.BASE_DIR / 'data' / 'wsgi-probe.sqlite3'}"
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    frozen, views_loaded = result.stdout.split()
    assert views_loaded == "True"
    assert int(frozen) > 50_000
