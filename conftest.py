"""Test-run configuration shared by every test directory."""

import os

from hypothesis import settings

# Deterministic by default, so a run is repeatable and CI never fails on a new random draw;
# HYPOTHESIS_PROFILE=explore searches fresh examples every run.
settings.register_profile("repeatable", derandomize=True, deadline=None)
settings.register_profile("explore", deadline=None, max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))
