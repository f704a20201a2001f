"""Annotators at work while Postgres goes away and a Gunicorn worker is killed: nothing they saved is lost.

A short run of bench/load_annotators.py, the same code as the benchmark: EyeTagger as in
production (Gunicorn with deploy/gunicorn.conf.py, DEBUG off) on a private Postgres cluster
started for the test, 10 simulated annotators drawing, saving (changes, PATCH, as the app) and
submitting through a copy of the app's sync queue for 20 s, with Postgres stopped for 3 s then
started again, a worker killed in the middle of a database transaction, and one save answer in
ten lost after the server stored it. Every annotation a client believes saved is then read back
and compared byte for byte, and its mask painted again from its strokes. About a minute, mostly
setting up.
"""

import re

import pytest

from bench.load_annotators import Config, Fault, report, run

from .support import scratch_database_name

DOWN = Fault.parse("pg-down:3@8")
KILL = Fault.parse("kill-worker@13")


@pytest.fixture(scope="module")
def outcome():
    config = Config(
        annotators=10,
        duration=20,
        pause_scale=0.3,  # busier than people, so the faults meet requests in flight
        workers=2,  # fewer workers to start on a busy machine; the killed one leaves one serving
        faults=[DOWN, KILL],
        lose_answers=0.1,  # a retried change (same op) and a 409 after a lost answer meet the real server
        drain_timeout=30,
        database_name=scratch_database_name("load_faults"),
    )
    return report(run(config))


def test_every_annotation_a_client_believes_saved_is_on_the_server_byte_for_byte(outcome):
    counts = outcome["counts"]
    assert counts["submits"] >= 3 and counts["verified"] >= 10, counts  # the run really worked
    assert counts["lost_or_different"] == 0, outcome["different"]
    assert counts["unsent"] == 0
    assert outcome["server"]["unknown"] == 0, "annotations stored that no client knows it saved"
    assert outcome["server"]["queue_problems"] == [], "the queue's counters disagree with its assignments"


def test_every_failed_request_was_retried_to_success(outcome):
    counts = outcome["counts"]
    failed = sum(counts["failed_attempts"].values())
    assert failed > 0, "the faults never met a request: this run proves nothing"
    assert counts["retries"] == failed, "each failed attempt is followed by another one"
    assert counts["errors"] == 0, outcome["errors"]
    assert outcome["failures"] == []


def test_requests_while_postgres_is_away_get_503_database_unavailable_and_none_after_it_is_back(outcome):
    down = next(row for row in outcome["faults"] if row["fault"] == str(DOWN))
    assert set(down["failed"]) == {"503"}, down["failed"]  # no 500, no dropped connection
    assert down["failed_after_postgres_was_back"] == 0, "a persistent connection was not reconnected"
    # Probes while it was away: the API and a page outside it (admin, loading its session); then,
    # once it was back, a burst reaching every worker thread, whose connections had all died.
    assert down["probes"][:2] == [
        "/api/auth/me/ 503 database_unavailable Retry-After 2",
        "/api/admin/ 503 database_unavailable Retry-After 2",
    ]
    assert re.fullmatch(r"right after it was back, (\d+) requests at once: 200: \1", down["probes"][2])
    # Every 503 the annotators got had the error shape and Retry-After (else it is in "errors").
    assert outcome["server"]["server_statuses"].get("500", 0) == 0


def test_a_worker_killed_inside_a_transaction_costs_a_retry_not_a_save(outcome):
    kill = next(row for row in outcome["faults"] if row["fault"] == str(KILL))
    assert "in transaction" in kill["detail"] or "active" in kill["detail"], kill["detail"]
    assert kill["failed"], "the killed worker's request in flight must have failed"
    assert set(kill["failed"]) <= {"ServerDisconnectedError", "ClientOSError"}, kill["failed"]
    # Retried to success like every failed attempt (test_every_failed_request_was_retried_to_success),
    # and no save lost (the first test): Postgres rolled the cut transaction back.


def test_changes_whose_answer_was_lost_are_applied_once_and_masks_follow_their_strokes(outcome):
    counts = outcome["counts"]
    assert set(counts["save_attempts_by_method"]) == {"PATCH"}, "the annotators save as the app: changes"
    assert counts["answers_lost_on_purpose"] > 0, "no answer was lost: this run proves nothing for retried changes"
    # Sent again with the same op (answered 200, applied once) or built on after a 409 with its own content.
    assert counts["changes_answered_after_no_answer"] + counts["lost_answers_recognised"] > 0
    assert outcome["server"]["stored"]["chunked"] > 0, "no annotation was changed by a PATCH"
    assert outcome["server"]["wrong"] == [], "a stored mask or count is not what its strokes make"
