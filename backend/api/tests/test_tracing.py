"""The steps the save path marks for benchmarks: traced when a tracer is installed, untouched otherwise."""

import pytest

from backend.api import tracing

from .conftest import brush, document

SAVE_STEPS = [
    "strokes: validate",
    "save (one transaction)",
    "queue: the annotator's lock",
    "save: lock the annotation (reads its strokes)",
    "save: set the content (mask, revision)",
    "strokes: rasterize",
    "mask: encode as RLE",
    "queue: keep in step with the save",
]


@pytest.fixture
def calls():
    """Install a tracer recording (step, depth) as each step starts; remove it afterwards."""
    seen, depth = [], [0]

    def tracer(name, step):
        seen.append((name, depth[0]))
        depth[0] += 1
        try:
            return step()
        finally:
            depth[0] -= 1

    tracing.install(tracer)
    yield seen
    tracing.install(None)


def save(client_for, annotator, image):
    response = client_for(annotator).put(
        f"/api/images/{image.pk}/annotation/", document([brush([(5, 5), (9, 9)])]), format="json"
    )
    assert response.status_code == 201, response.json()


def test_a_save_runs_every_marked_step_once_nested_in_the_transaction(calls, client_for, annotator, image):
    save(client_for, annotator, image)
    assert [name for name, _ in calls] == SAVE_STEPS
    depths = dict(calls)
    assert depths["strokes: validate"] == depths["save (one transaction)"] == 0
    assert depths["queue: the annotator's lock"] == depths["queue: keep in step with the save"] == 1
    assert depths["strokes: rasterize"] == 2  # inside setting the content


def test_every_step_of_the_save_path_is_marked_somewhere(client_for, annotator, image):
    assert set(SAVE_STEPS) <= set(tracing.STEPS)


def test_without_a_tracer_steps_run_as_they_are(client_for, annotator, image):
    seen = []
    tracing.install(lambda name, step: seen.append(name) or step())
    tracing.install(None)
    save(client_for, annotator, image)
    assert seen == []


def test_a_step_hands_back_its_result_and_its_errors(calls):
    @tracing.traced("test: divide")
    def divide(a, *, by):
        return a / by

    assert divide(6, by=3) == 2
    with pytest.raises(ZeroDivisionError):
        divide(1, by=0)
    assert calls == [("test: divide", 0), ("test: divide", 0)]
    tracing.STEPS.remove("test: divide")
