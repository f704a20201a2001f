"""Read the original's tables from its live PostgreSQL database, read-only, as ``dump.PgDump`` reads a dump.

One REPEATABLE READ, READ ONLY transaction: every table is read from the same snapshot, so an
original still in use gives a consistent picture, and nothing can be written to it (the server
refuses any write in a read-only transaction). Large tables are read through a server-side
cursor, a few hundred rows at a time.
"""

from collections.abc import Iterator
from urllib.parse import urlsplit

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from .rows import OriginalInvalid

_BATCH = 200


def describe_url(url: str) -> str:
    """Return the database's address without its password, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    return f"database {host}{port}{parts.path or '/'}"


class OriginalDatabase:
    """The original's database at ``url`` (postgres://user:password@host:port/eyetagger)."""

    def __init__(self, url: str):
        if urlsplit(url).scheme not in ("postgres", "postgresql"):
            raise OriginalInvalid(f"--database-url must be a postgres:// URL; got {urlsplit(url).scheme}://...")
        self.description = describe_url(url)
        try:
            # default_transaction_read_only as well: even a statement sent outside our transaction cannot write.
            self.connection = psycopg.connect(url, options="-c default_transaction_read_only=on", connect_timeout=10)
        except psycopg.Error as error:
            raise OriginalInvalid(f"cannot connect to the {self.description}: {str(error).strip()}") from None
        self.connection.read_only = True
        self.connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        self._columns: dict[str, list[str]] | None = None
        self._cursors = 0

    def close(self) -> None:
        self.connection.rollback()
        self.connection.close()

    def __enter__(self) -> "OriginalDatabase":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def table_columns(self) -> dict[str, list[str]]:
        if self._columns is None:
            with self.connection.cursor() as cursor:
                cursor.execute(
                    "SELECT table_name, column_name FROM information_schema.columns "
                    "WHERE table_schema = 'public' ORDER BY table_name, ordinal_position"
                )
                columns: dict[str, list[str]] = {}
                for table, column in cursor:
                    columns.setdefault(table, []).append(column)
            self._columns = columns
        return self._columns

    def column_types(self, table: str) -> dict[str, str]:
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'public' AND table_name = %s",
                [table],
            )
            return dict(cursor.fetchall())

    def row_count(self, table: str) -> int:
        with self.connection.cursor() as cursor:
            cursor.execute(sql.SQL("SELECT count(*) FROM public.{}").format(sql.Identifier(table)))
            return cursor.fetchone()[0]

    def rows(self, table: str) -> Iterator[tuple[None, dict]]:
        columns = self.table_columns().get(table, [])
        order = sql.SQL(" ORDER BY id") if "id" in columns else sql.SQL("")
        query = sql.SQL("SELECT * FROM public.{}").format(sql.Identifier(table)) + order
        self._cursors += 1
        with self.connection.cursor(name=f"original_{table}_{self._cursors}", row_factory=dict_row) as cursor:
            cursor.itersize = _BATCH
            cursor.execute(query)
            for row in cursor:
                yield None, row
