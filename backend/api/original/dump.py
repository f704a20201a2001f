"""Read a ``pg_dump`` plain-SQL backup without a database: its tables, their columns and their rows.

Reads what ``pg_dump`` writes in its plain format (PostgreSQL 13 and newer), gzipped or not
(bzip2 and xz too): ``CREATE TABLE`` for each table's columns, and each table's rows from its
``COPY ... FROM stdin`` block (the default) or from ``INSERT`` statements (``--inserts``,
``--column-inserts``, ``--rows-per-insert``). Everything else (``SET``, ``ALTER ... OWNER TO``,
sequences, indexes, constraints, psql's ``\\restrict``) is skipped.

The whole file is checked once when it is opened (``PgDump.scan``): a block or statement cut
short, a row with the wrong number of fields, bytes that are not text in the dump's encoding,
or a missing last line ("dump complete") raise ``DumpInvalid`` naming the line. Memory stays
flat: the rows of the tables named in ``keep`` are held, every other table's rows are read
again from the file, one at a time, when asked for.

Values come as the COPY text format has them: ``None`` for NULL, otherwise text (``'t'`` and
``'f'`` for booleans, digits for numbers, timestamps as PostgreSQL prints them), whichever way
the dump wrote them.

One module because the dump's grammar (COPY blocks, INSERT statements, quoting, encodings) is read
by one walk whose helpers share its state; split apart, each piece would need the others to make sense.
"""

import bz2
import gzip
import lzma
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

LAST_LINE = "-- PostgreSQL database dump complete"

# PostgreSQL's names for encodings a dump may be written in, and Python's.
_ENCODINGS = {
    "UTF8": "utf-8",
    "UNICODE": "utf-8",
    "SQL_ASCII": "utf-8",  # no conversion: the bytes are the server's, in practice UTF-8
    "LATIN1": "latin-1",
    "LATIN9": "iso8859-15",
    "WIN1252": "cp1252",
}


class DumpInvalid(ValueError):
    """The dump cannot be read; the message names the line and says what to do."""


@dataclass
class DumpTable:
    """A table of the dump: its columns, and where and how its rows are written."""

    name: str
    columns: list[str] = field(default_factory=list)  # from CREATE TABLE, in the table's order
    types: dict[str, str] = field(default_factory=dict)  # column -> its type, as CREATE TABLE names it
    data_columns: list[str] | None = None  # from the COPY header or the INSERT column list
    data_line: int | None = None  # the line where its rows start
    rows: int = 0

    @property
    def row_columns(self) -> list[str]:
        return self.data_columns if self.data_columns is not None else self.columns


_IDENT = r'(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
_QUALIFIED = rf"{_IDENT}(?:\s*\.\s*{_IDENT})?"
_CREATE_TABLE = re.compile(rf"^CREATE\s+(?:UNLOGGED\s+)?TABLE\s+({_QUALIFIED})\s*\($")
_COPY = re.compile(rf"^COPY\s+({_QUALIFIED})\s*(?:\((.*)\))?\s+FROM\s+stdin;\s*$", re.I)
_INSERT = re.compile(
    rf"^INSERT\s+INTO\s+({_QUALIFIED})\s*(?:\(([^)]*)\))?\s*(?:OVERRIDING\s+\w+\s+VALUE\s+)?VALUES\s*", re.I
)
_IDENT_RE = re.compile(_IDENT)
_ENCODING = re.compile(r"^SET\s+client_encoding\s*=\s*'([^']+)'", re.I)
_STANDARD_STRINGS = re.compile(r"^SET\s+standard_conforming_strings\s*=\s*(\w+)", re.I)
_VERSION = re.compile(r"^-- Dumped (from database|by pg_dump) version (.+)$")


def _unquote(identifier: str) -> str:
    """Return an SQL identifier's name: quoted as written, unquoted folded to lower case."""
    if identifier.startswith('"'):
        return identifier[1:-1].replace('""', '"')
    return identifier.lower()


def _table_name(qualified: str) -> tuple[str, str]:
    """Return (schema, table) of a possibly schema-qualified name (no schema: public)."""
    parts = [_unquote(p) for p in _IDENT_RE.findall(qualified)]
    return (parts[0], parts[1]) if len(parts) == 2 else ("public", parts[0])


def _column_list(text: str) -> list[str]:
    return [_unquote(p) for p in _IDENT_RE.findall(text)]


# --- COPY's text format -----------------------------------------------------------------

_COPY_ESCAPE = re.compile(rb"\\(?:([0-7]{1,3})|x([0-9A-Fa-f]{1,2})|(.)|$)", re.S)
_COPY_SIMPLE = {b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r", b"t": b"\t", b"v": b"\v"}


def _copy_unescape(raw: bytes) -> bytes:
    def replace(match: re.Match) -> bytes:
        octal, hexa, char = match.groups()
        if octal:
            return bytes([int(octal, 8) & 0xFF])
        if hexa:
            return bytes([int(hexa, 16)])
        if char is None:
            raise ValueError("a backslash ends the field")
        return _COPY_SIMPLE.get(char, char)

    return _COPY_ESCAPE.sub(replace, raw)


def copy_fields(line: bytes, encoding: str) -> list[str | None]:
    """Return the values of one row of COPY's text format (without its newline)."""
    values: list[str | None] = []
    for raw in line.split(b"\t"):
        if raw == b"\\N":
            values.append(None)
        elif b"\\" in raw:
            values.append(_copy_unescape(raw).decode(encoding))
        else:
            values.append(raw.decode(encoding))
    return values


# --- INSERT statements ------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>'(?:[^']|'')*')
    | (?P<escape>[Ee]'(?:[^'\\]|''|\\.)*')
    | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
    | (?P<word>[A-Za-z_]\w*)
    | (?P<cast>::\s*(?:[A-Za-z_][\w.]*|"[^"]*")(?:\s+(?:with|without|time|zone|varying|precision))*
               (?:\s*\([\d,\s]*\))?(?:\[\])*)
    | (?P<punct>[(),;])
    )""",
    re.X | re.S,
)
_E_ESCAPE = re.compile(r"\\(?:([0-7]{1,3})|x([0-9A-Fa-f]{1,2})|u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.))", re.S)
_E_SIMPLE = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _e_unescape(body: str) -> str:
    def replace(match: re.Match) -> str:
        octal, hexa, u4, u8, char = match.groups()
        if octal or hexa:
            return chr(int(octal, 8) if octal else int(hexa, 16))
        if u4 or u8:
            return chr(int(u4 or u8, 16))
        return _E_SIMPLE.get(char, char)

    return _E_ESCAPE.sub(replace, body.replace("''", "'"))


def _sql_value(match: re.Match, standard_strings: bool) -> str | None:
    kind = match.lastgroup
    text = match.group(kind)
    if kind == "string":
        body = text[1:-1]
        return body.replace("''", "'") if standard_strings else _e_unescape(body)
    if kind == "escape":
        return _e_unescape(text[2:-1])
    if kind == "number":
        return text
    word = text.lower()
    if word == "null":
        return None
    if word in ("true", "false"):
        return word[0]  # as COPY writes booleans
    raise ValueError(f"unexpected {text!r}")


def insert_rows(values_text: str, *, standard_strings: bool = True) -> Iterator[list[str | None]]:
    """Yield the rows of an INSERT statement's ``VALUES (...), (...);`` part."""
    pos, end = 0, len(values_text)
    while True:
        match = _TOKEN.match(values_text, pos)
        if not match or match.group("punct") != "(":
            raise ValueError("expected '(' opening a row")
        pos = match.end()
        row: list[str | None] = []
        while True:
            match = _TOKEN.match(values_text, pos)
            if not match or match.group("punct"):
                raise ValueError(f"expected a value at character {pos}")
            value = _sql_value(match, standard_strings)
            pos = match.end()
            match = _TOKEN.match(values_text, pos)
            while match and match.group("cast"):  # 'x'::type: the value is the literal's text
                pos = match.end()
                match = _TOKEN.match(values_text, pos)
            row.append(value)
            if not match or match.group("punct") not in (",", ")"):
                raise ValueError(f"expected ',' or ')' at character {pos}")
            pos = match.end()
            if match.group("punct") == ")":
                break
        yield row
        match = _TOKEN.match(values_text, pos)
        if not match or match.group("punct") not in (",", ";"):
            raise ValueError(f"expected ',' or ';' after a row at character {pos}")
        pos = match.end()
        if match.group("punct") == ";":
            if values_text[pos:].strip():
                raise ValueError("text after the statement's ';'")
            return
        if pos >= end:
            raise ValueError("the statement ends after a ','")


# --- The file -----------------------------------------------------------------------------


def _open(path: Path):
    """Open the dump for reading bytes, uncompressing gzip, bzip2 or xz; refuse pg_dump's other formats."""
    try:
        with open(path, "rb") as probe:
            head = probe.read(512)
    except FileNotFoundError:
        raise DumpInvalid(f"{path} does not exist.") from None
    except IsADirectoryError:
        raise DumpInvalid(
            f"{path} is a folder: a directory-format dump (pg_dump -Fd)? Convert it to plain SQL with "
            f"pg_restore -f dump.sql {path}"
        ) from None
    if head.startswith(b"\x1f\x8b"):
        opener, head = gzip.open, _peek(gzip.open, path)
    elif head.startswith(b"BZh"):
        opener, head = bz2.open, _peek(bz2.open, path)
    elif head.startswith(b"\xfd7zXZ\x00"):
        opener, head = lzma.open, _peek(lzma.open, path)
    else:
        opener = open
    if head.startswith(b"PGDMP"):
        raise DumpInvalid(
            f"{path} is a pg_dump custom-format archive (pg_dump -Fc), not plain SQL. Convert it with: "
            f"pg_restore -f dump.sql {path}"
        )
    if len(head) > 262 and head[257:262] == b"ustar":
        raise DumpInvalid(
            f"{path} is a tar archive (pg_dump -Ft?), not plain SQL. Convert it with: pg_restore -f dump.sql {path}"
        )
    return opener(path, "rb")


def _peek(opener, path: Path) -> bytes:
    try:
        with opener(path, "rb") as stream:
            return stream.read(512)
    except (OSError, EOFError, zlib.error, lzma.LZMAError) as error:
        raise DumpInvalid(f"{path} cannot be uncompressed: {error}. The file is damaged or cut short.") from None


class PgDump:
    """A plain-SQL dump: ``scan()`` once, then ``tables`` and ``rows(table)``."""

    def __init__(self, path: Path | str, *, keep: Iterable[str] = ()):
        self.path = Path(path)
        self.keep = set(keep)
        self.tables: dict[str, DumpTable] = {}
        self.versions: dict[str, str] = {}  # "from database" / "by pg_dump" -> version
        self._kept: dict[str, list[tuple[int, list[str | None]]]] = {}
        self._scanned = False

    @property
    def description(self) -> str:
        return f"dump {self.path.name}"

    def scan(self) -> "PgDump":
        """Read the whole dump once, checking it, and hold the rows of the tables in ``keep``."""
        if not self._scanned:
            for table, line, values in self._walk(decode=self.keep):
                self._kept.setdefault(table, []).append((line, values))
            self._scanned = True
        return self

    def table_columns(self) -> dict[str, list[str]]:
        """Return every table of the public schema with its columns (its rows' columns when they differ)."""
        self.scan()
        return {name: table.row_columns for name, table in self.tables.items() if table.row_columns}

    def column_types(self, table: str) -> dict[str, str]:
        """Return {column: type} of a table, as its CREATE TABLE names them ("boolean NOT NULL"...)."""
        self.scan()
        return dict(self.tables[table].types) if table in self.tables else {}

    def row_count(self, table: str) -> int:
        self.scan()
        return self.tables[table].rows if table in self.tables else 0

    def rows(self, table: str) -> Iterator[tuple[int, dict[str, str | None]]]:
        """Yield (line number, {column: value}) for every row of the table, in the dump's order."""
        self.scan()
        info = self.tables.get(table)
        if info is None or info.data_line is None:
            return
        columns = info.row_columns
        if table in self.keep:
            source = iter(self._kept.get(table, []))
        else:
            source = ((line, values) for _, line, values in self._walk(decode={table}, stop_after=table))
        for line, values in source:
            yield line, dict(zip(columns, values, strict=True))

    def _walk(self, *, decode: set[str], stop_after: str | None = None) -> Iterator[tuple[str, int, list]]:
        """Go through the dump, yielding (table, line, values) for the rows of the tables in ``decode``.

        Rows of other tables are only checked (field counts), which is all the first pass
        needs and several times faster than decoding them. With ``stop_after``, stop at the end
        of that table's rows (the first pass has checked the rest).
        """
        first_pass = not self._scanned
        state = _WalkState()
        stream = _open(self.path)
        try:
            # The loop stays here, not in a helper generator, so each COPY row passes through one
            # generator fewer: this is the import's hot path.
            for raw in stream:
                state.number += 1
                if state.copying is not None:
                    if raw in (b"\\.\n", b"\\.", b"\\.\r\n"):
                        if state.copying.name == stop_after:
                            return
                        state.copying = None
                        continue
                    if not raw.endswith(b"\n"):
                        break  # the file ends inside the block
                    yield from self._copy_row(raw, state, decode, first_pass)
                    continue
                text = self._decode_line(raw, state)
                if state.statement is not None:
                    if (yield from self._statement_line(text, state, decode, first_pass, stop_after)):
                        return
                elif state.creating is not None:
                    self._create_table_line(text, state)
                elif text.startswith("INSERT"):
                    state.statement, state.statement_line = [], state.number
                    if (yield from self._statement_line(text, state, decode, first_pass, stop_after)):
                        return
                elif text.strip():
                    if stop_after is not None and state.data_table == stop_after:
                        return  # the table's INSERTs are over
                    state.data_table = None
                    self._other_line(text, state, decode, first_pass)
        except (EOFError, zlib.error, lzma.LZMAError, OSError) as error:
            raise DumpInvalid(
                f"{self.path.name} cannot be read past line {state.number}: {error}. The backup is cut short "
                "or damaged."
            ) from None
        finally:
            stream.close()
        self._check_walk_end(state, first_pass)

    @staticmethod
    def _decode_line(raw: bytes, state: "_WalkState") -> str:
        try:
            return raw.decode(state.encoding)
        except UnicodeDecodeError as error:
            raise DumpInvalid(
                f"line {state.number} is not {state.encoding} text (byte {error.start}), the dump's "
                "encoding. The dump is damaged."
            ) from None

    def _statement_line(self, text: str, state: "_WalkState", decode: set[str], first_pass: bool, stop_after):
        """Add a line to the INSERT being read; once it is complete, yield its rows.

        Return True when the walk should stop before it.
        """
        state.statement.append(text)
        if not self._statement_complete(state.statement):
            return False
        text, state.statement = "".join(state.statement), None
        return (yield from self._insert(text, state, decode, first_pass, stop_after))

    def _other_line(self, text: str, state: "_WalkState", decode: set[str], first_pass: bool) -> None:
        """Read a line outside any table's rows, INSERT or CREATE TABLE: what it says of what follows."""
        if text.startswith("COPY "):
            self._copy_header(text, state, decode, first_pass)
        elif text.startswith("CREATE"):
            match = _CREATE_TABLE.match(text.rstrip("\r\n"))
            if match:
                schema, name = _table_name(match.group(1))
                state.creating = DumpTable(name)
                if schema == "public" and first_pass:
                    state.creating = self.tables.setdefault(name, state.creating)
                    state.creating.columns = []
        elif text.startswith("SET "):
            self._set_line(text, state)
        elif text.startswith("--"):
            if text.startswith(LAST_LINE):
                state.complete = True
            match = _VERSION.match(text.rstrip("\r\n"))
            if match and first_pass:
                self.versions[match.group(1)] = match.group(2)

    def _check_walk_end(self, state: "_WalkState", first_pass: bool) -> None:
        """Refuse a dump that ends inside a block or statement, or (first pass) without its last line."""
        if state.copying is not None:
            raise DumpInvalid(
                f"{self.path.name} ends inside the data of {state.copying.name} (COPY at line "
                f"{state.copy_line}, no closing \\. line): the backup is cut short."
            )
        if state.statement is not None:
            raise DumpInvalid(
                f"{self.path.name} ends inside the INSERT statement of line {state.statement_line}: the backup is "
                "cut short."
            )
        if first_pass and not state.complete:
            raise DumpInvalid(
                f"{self.path.name} ends at line {state.number} without pg_dump's last line ({LAST_LINE!r}): the "
                "backup is cut short (written while the disk was full, or copied before it was finished)."
            )

    def _copy_row(self, raw: bytes, state: "_WalkState", decode: set[str], first_pass: bool):
        table = state.copying
        line = raw[:-1]
        if line.endswith(b"\r"):
            line = line[:-1]  # written on Windows: a \r in COPY data is escaped, never raw
        fields = line.count(b"\t") + 1
        if fields != state.copy_width:
            raise DumpInvalid(
                f"line {state.number}: a row of {table.name}'s data has {fields} fields, but its COPY header "
                f"(line {state.copy_line}) names {state.copy_width} columns. The dump is damaged."
            )
        if first_pass:
            table.rows += 1
        if table.name in decode and state.copy_known:
            try:
                yield table.name, state.number, copy_fields(line, state.encoding)
            except (UnicodeDecodeError, ValueError) as error:
                raise DumpInvalid(
                    f"line {state.number}: a row of {table.name}'s data cannot be read ({error}). The dump is damaged."
                ) from None

    def _copy_header(self, text: str, state: "_WalkState", decode: set[str], first_pass: bool) -> None:
        match = _COPY.match(text.rstrip("\r\n"))
        if not match:
            raise DumpInvalid(f"line {state.number}: a COPY header that cannot be read: {text.strip()[:120]}")
        schema, name = _table_name(match.group(1))
        table = self._table(name, schema)
        state.copy_known = table is not None
        if table is None:
            table = DumpTable(name)  # another schema: read past it
        else:
            self._data_starts(table, state, first_pass)
        if match.group(2) is not None and (first_pass or not state.copy_known):
            table.data_columns = _column_list(match.group(2))
        if first_pass or not state.copy_known:
            table.data_line = state.number + 1
        state.copying, state.copy_line = table, state.number
        state.copy_width = len(table.row_columns)
        if state.copy_width == 0:
            raise DumpInvalid(f"line {state.number}: the COPY of {name} names no columns.")

    def _data_starts(self, table: DumpTable, state: "_WalkState", first_pass: bool) -> None:
        """Note that the table's rows start here; refuse a table whose rows come twice."""
        if table.name in state.seen_data:
            raise DumpInvalid(
                f"line {state.number}: the data of {table.name} appears a second time (first at line "
                f"{state.seen_data[table.name]}): a dump of several databases (pg_dumpall)? Dump only the "
                "original's database: pg_dump -U eyetagger_admin eyetagger"
            )
        state.seen_data[table.name] = state.number

    @staticmethod
    def _create_table_line(text: str, state: "_WalkState") -> None:
        stripped = text.strip()
        if stripped.startswith(")"):
            state.creating = None
        elif stripped and not stripped.upper().startswith(("CONSTRAINT ", "LIKE ", "--")):
            match = _IDENT_RE.match(stripped)
            if match:
                column = _unquote(match.group(0))
                state.creating.columns.append(column)
                state.creating.types[column] = stripped[match.end() :].strip().rstrip(",").lower()

    @staticmethod
    def _set_line(text: str, state: "_WalkState") -> None:
        match = _ENCODING.match(text)
        if match:
            name = match.group(1).upper().replace("-", "")
            if name not in _ENCODINGS:
                raise DumpInvalid(
                    f"line {state.number}: the dump is in the encoding {match.group(1)}, which this importer "
                    "does not read; dump again with pg_dump --encoding=UTF8."
                )
            state.encoding = _ENCODINGS[name]
        match = _STANDARD_STRINGS.match(text)
        if match:
            state.standard_strings = match.group(1).lower() in ("on", "true")

    def _table(self, name: str, schema: str) -> DumpTable | None:
        if schema != "public":
            return None
        return self.tables.setdefault(name, DumpTable(name))

    @staticmethod
    def _statement_complete(lines: list[str]) -> bool:
        # pg_dump doubles every quote inside a string, so an even count means outside any string.
        return lines[-1].rstrip().endswith(";") and sum(line.count("'") for line in lines) % 2 == 0

    def _insert(self, text: str, state: "_WalkState", decode: set[str], first_pass: bool, stop_after):
        """Yield the rows of one INSERT statement; return True when the walk should stop before it."""
        number = state.statement_line if state.statement_line else state.number
        state.statement_line = 0
        match = _INSERT.match(text)
        if not match:
            raise DumpInvalid(f"line {number}: an INSERT statement that cannot be read: {text.strip()[:120]}")
        schema, name = _table_name(match.group(1))
        if stop_after is not None and state.data_table == stop_after and name != stop_after:
            return True
        table = self._table(name, schema)
        if table is None:
            state.data_table = None
            return False
        if state.data_table != name:
            self._data_starts(table, state, first_pass)
            state.data_table = name
            if first_pass:
                table.data_line = number
                if match.group(2) is not None:
                    table.data_columns = _column_list(match.group(2))
        columns = _column_list(match.group(2)) if match.group(2) is not None else table.columns
        if not columns:
            raise DumpInvalid(f"line {number}: an INSERT into {name}, whose columns the dump never names.")
        try:
            for values in insert_rows(text[match.end() :], standard_strings=state.standard_strings):
                if len(values) != len(columns):
                    raise DumpInvalid(
                        f"line {number}: a row inserted into {name} has {len(values)} values for "
                        f"{len(columns)} columns. The dump is damaged."
                    )
                if first_pass:
                    table.rows += 1
                if name in decode:
                    yield name, number, values
        except DumpInvalid:
            raise
        except ValueError as error:
            raise DumpInvalid(f"line {number}: an INSERT into {name} cannot be read ({error}).") from None
        return False


@dataclass
class _WalkState:
    """Where a walk through the dump is."""

    number: int = 0
    encoding: str = "utf-8"
    standard_strings: bool = True
    complete: bool = False
    creating: DumpTable | None = None
    copying: DumpTable | None = None
    copy_known: bool = False
    copy_line: int = 0
    copy_width: int = 0
    statement: list[str] | None = None
    statement_line: int = 0
    data_table: str | None = None  # the table whose INSERTs are being read
    seen_data: dict[str, int] = field(default_factory=dict)
