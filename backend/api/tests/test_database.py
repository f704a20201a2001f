"""The connection to PostgreSQL: statements a connection runs often are prepared once."""

import pytest
from django.db import connection

from backend.api.models import Dataset

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def _prepared() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def test_a_query_run_often_on_a_connection_is_prepared_once_and_reused():
    before = set(_prepared())  # earlier tests on this connection may have prepared their own
    for pk in range(9):  # prepared after its fifth run (prepare_threshold), then reused
        list(Dataset.objects.filter(pk=pk).values_list("seed", flat=True))
    statements = [text for text in set(_prepared()) - before if '"api_dataset"."seed"' in text]
    assert len(statements) == 1, statements
    assert "$1" in statements[0]  # the value is bound on the server, not quoted into the SQL


def test_values_bound_on_the_server_keep_their_types():
    # Server-side binding sends the values apart from the SQL: text that looks like SQL stays text.
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::text, %s, %s", ["'; DROP TABLE api_dataset; --", 3, None])
        assert cursor.fetchone() == ("'; DROP TABLE api_dataset; --", 3, None)
    assert Dataset.objects.count() == 0
