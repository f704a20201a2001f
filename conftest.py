"""Test-run configuration shared by every test directory."""

import os

from hypothesis import settings

# Deterministic by default, so a run is repeatable and CI never fails on a new random draw;
# HYPOTHESIS_PROFILE=explore searches fresh examples every run.
settings.register_profile("repeatable", derandomize=True, deadline=None)
settings.register_profile("explore", deadline=None, max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

# Fixtures through which a test reaches the database (pytest-django refuses it to any other test).
_DATABASE_FIXTURES = {
    "db",
    "transactional_db",
    "django_db_reset_sequences",
    "django_db_serialized_rollback",
    "live_server",
}


def pytest_addoption(parser):
    parser.addoption(
        "--database-tests-only",
        action="store_true",
        help="Run only the tests that use the database: the second database's run (make test-api-postgres), "
        "where the pure tests would only repeat what the first run showed.",
    )


def pytest_collection_modifyitems(config, items):
    if not config.getoption("--database-tests-only"):
        return
    kept, dropped = [], []
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        uses_database = item.get_closest_marker("django_db") or _DATABASE_FIXTURES & fixtures
        (kept if uses_database else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
