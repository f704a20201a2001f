"""Hostile requests from the OpenAPI schema, for every operation and every role: no 5xx, every refusal clear.

A bounded, deterministic run (schemathesis in process, see ``fuzzing.py``): the schema's
coverage cases (boundaries, wrong types, missing fields, unexpected methods) as an admin,
whom no permission stops before the validation; and a few generated requests per operation
that fit the schema and a few that break it, each sent as every role. ``bench/fuzz_api.py``
runs the same for as long as one likes.
"""

import pytest
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from schemathesis import GenerationMode

from backend.api import views

from .fuzzing import ROLES, fuzz, fuzz_operation, load_schema, seed_world

# Examples per operation and generation mode, each sent as all four roles: 596 requests (28
# operations x 2 modes x 3 x 4, less the operations with nothing to break); and at most 40
# coverage cases per operation, 646 of the schema's 1,528 (bench/fuzz_api.py sends them all).
EXAMPLES = 3
COVERAGE_LIMIT = 40


@pytest.fixture(scope="module")
def openapi():
    return load_schema()


@pytest.fixture
def world(db, dataset_root, monkeypatch):
    # Sign-in validation is fuzzed too, so the login throttle must not answer 429 to everything;
    # test_security.py tests the throttle.
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"login": "1000000/min", "enrol": "1000000/min"})
    return seed_world(dataset_root)


def failures_of(results) -> list[str]:
    """Return one line per (operation, role, failure) and the first report of each failure."""
    lines = []
    for (label, role), tally in results.items():
        for key, report in tally.failures.items():
            lines.append(f"{label} as {role}: {key}\n{report[:3000]}")
    return lines


def test_the_coverage_cases_of_every_operation_get_no_5xx_and_clear_refusals(openapi, world):
    results = fuzz(openapi, world, max_examples=0, coverage_roles=("admin",), coverage_limit=COVERAGE_LIMIT)
    assert not failures_of(results), "\n\n".join(failures_of(results))
    assert sum(t.requests for t in results.values()) > 500  # every operation had its cases


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
def test_generated_requests_as_every_role_get_no_5xx_and_clear_refusals(mode, openapi, world):
    results = fuzz(openapi, world, max_examples=EXAMPLES, modes=(mode,))
    assert not failures_of(results), "\n\n".join(failures_of(results))
    labels = {label for label, _ in results}
    assert len(labels) == len(list(openapi.get_all_operations()))
    if mode is GenerationMode.POSITIVE:
        # Real ids in the paths: every operation got past its 404s to a real answer for some role.
        answered = {label for (label, _), t in results.items() if any(200 <= s < 300 for s in t.statuses)}
        # Signing in needs real credentials. Completing a step needs to be on a step that is not images
        # (the participant is on the practice); the AI's saliency map, a trial of an annotation step; the
        # feedback, a submitted practice image, while the real id the cases mostly get is the open one
        # (so that saving gets through): test_participation_api.py answers those. An incremental save
        # must name the version the server holds, which a generated case does not know (it gets 409
        # or 400): test_annotation_change_api.py and test_participation_change_api.py answer those.
        unanswered = (
            labels
            - answered
            - {
                "POST /api/auth/login/",
                "POST /api/auth/token/login/",
                "POST /api/participation/steps/{index}/",
                "GET /api/participation/images/{id}/ai-saliency",
                "GET /api/participation/images/{id}/feedback/",
                "GET /api/participation/images/{id}/reference-mask",
                "PATCH /api/images/{id}/annotation/",
                "PATCH /api/participation/images/{id}/annotation/",
            }
        )
        assert not unanswered, f"never answered 2xx: {sorted(unanswered)}"


# --- The fuzzing can fail ------------------------------------------------------------------


def test_the_fuzzing_reports_a_server_error(openapi, world, monkeypatch):
    def crash(self, request):
        raise RuntimeError("boom")

    monkeypatch.setattr(views.MeApi, "get", crash)
    tallies = fuzz_operation(openapi, openapi["/api/auth/me/"]["GET"], world, roles=["researcher"], max_examples=1)
    assert any("Server error (500)" in key for key in tallies["researcher"].failures)
    assert "RuntimeError: boom" in next(iter(tallies["researcher"].failures.values()))


def test_the_fuzzing_reports_an_error_without_the_error_shape(openapi, world, monkeypatch):
    monkeypatch.setattr(views.MeApi, "get", lambda self, request: Response({"error": ""}, status=400))
    tallies = fuzz_operation(openapi, openapi["/api/auth/me/"]["GET"], world, roles=ROLES, max_examples=1)
    [report] = [report for key, report in tallies["admin"].failures.items() if "Badly shaped error (400)" in key]
    assert "no code, no detail, no errors list" in report
