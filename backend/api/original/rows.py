"""The original EyeTagger's tables across its schema eras, read into typed records.

Columns are found by name, never by position: the original's last fields came without committed
migrations, so their order depends on when each deployment ran ``makemigrations``. A source is
a dump (``dump.PgDump``) or a live database (``database.OriginalDatabase``); both give rows as
``{column: value}`` with values as text (COPY's format) or as Python values (the database's).
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

USERS, PROFILES, TOKENS, IMAGES, ANNOTATIONS, MIGRATIONS = (
    "auth_user",
    "api_profile",
    "authtoken_token",
    "api_image",
    "api_annotation",
    "django_migrations",
)
# Every table the import reads but api_annotation: small enough to hold while the annotations stream by.
SMALL_TABLES = (USERS, PROFILES, TOKENS, IMAGES, MIGRATIONS)
# The tables every deployment has, and the columns every era of them has.
REQUIRED = {
    USERS: ("id", "username", "password"),
    IMAGES: ("img_id",),
    ANNOTATIONS: ("id", "annotation", "annotator_id", "image_id"),
}
# The development schema of 2020-05-15..19 named two image columns in camel case.
_IMAGE_ALIASES = {"imgID": "img_id", "imgStaticPath": "img_path", "imgid": "img_id", "imgstaticpath": "img_path"}
_IMAGE_COLUMNS = {"id", "img_id", "extension", "img_path", "ground_truth"}
# What the original's text box held when nobody typed: 'testing' from 2023-08-03 to 08-13, then this.
PLACEHOLDER_TEXTS = ("enter text here", "testing")


class OriginalInvalid(ValueError):
    """The original's data cannot be imported as it is; the message names the table and row."""


class Source(Protocol):
    """Where the original's tables are read from."""

    description: str

    def table_columns(self) -> dict[str, list[str]]:
        """Return every table of the public schema with its columns."""

    def column_types(self, table: str) -> dict[str, str]:
        """Return {column: its SQL type} of a table."""

    def row_count(self, table: str) -> int:
        """Return the number of rows of the table."""

    def rows(self, table: str) -> Iterator[tuple[int | None, dict]]:
        """Yield (line in the dump or None, {column: value}) for each row of the table."""


@dataclass(frozen=True)
class OriginalUser:
    id: int
    username: str
    email: str
    password: str  # Django's encoded hash, as stored
    first_name: str
    last_name: str
    is_staff: bool
    is_superuser: bool
    is_active: bool
    last_login: datetime | None
    date_joined: datetime | None
    is_test: bool
    token: str | None  # authtoken_token.key, if the user was signed in


@dataclass(frozen=True)
class OriginalImage:
    id: int | None
    img_id: str  # SHA-256 of the file, hex
    extension: str
    img_path: str  # relative to data/dataset/images/
    ground_truth: str | None  # None for NULL, '' and the string 'nan'; None too when the column is absent
    has_ground_truth_column: bool
    extra: dict[str, str] = field(default_factory=dict)  # every other column (the iris era's)
    where: str = ""


@dataclass(frozen=True)
class OriginalAnnotation:
    id: int
    annotator_id: int
    image_id: str  # api_image.img_id
    annotation: str  # the PNG data URL ('' when a client omitted it)
    text: str | None  # None before the column existed
    real_button: bool | None  # None before the columns existed
    fake_button: bool | None
    ground_truth: str | None
    svg: str | None  # annotation_svg: None for rows last saved before the column existed
    times: str | None  # annotation_times
    where: str = ""  # "api_annotation id 7 (dump line 1234)", for messages

    @property
    def label_button(self) -> str | None:
        """Return "real", "fake", or None: the decision the two buttons stored (both: None, see ``both_buttons``)."""
        if self.real_button and not self.fake_button:
            return "real"
        if self.fake_button and not self.real_button:
            return "fake"
        return None

    @property
    def both_buttons(self) -> bool:
        return bool(self.real_button and self.fake_button)


@dataclass(frozen=True)
class Schema:
    """The columns the source has, and what era of the original they come from."""

    users: list[str]
    images: list[str]
    annotations: list[str]
    has_profiles: bool
    has_tokens: bool
    migrations: list[str]  # the api app's applied migrations, when django_migrations is there

    @property
    def has_buttons(self) -> bool:
        return "real_button" in self.annotations and "fake_button" in self.annotations

    @property
    def era(self) -> str:
        """Return the original's schema era in words, from the columns present (reference §2.3)."""
        annotations, images = set(self.annotations), set(self.images)
        if "imgID" in images or "imgid" in images:
            era = "2020-05-15..19 (development schema: imgID, imgStaticPath)"
        elif {"annotation_svg", "annotation_times"} <= annotations:
            era = "2024-06-20 on (final: SVG strokes and stroke times)"
        elif "ground_truth" in annotations:
            era = "2023-11-30 .. 2024-06 (ground truth)"
        elif self.has_buttons:
            era = "2023-08-14 .. 2023-11 (real/fake buttons)"
        elif "text" in annotations:
            era = "2023-08-03 .. 08-13 (text)"
        else:
            era = "2020-05 .. 2023-07 (PNG masks only)"
        extra = sorted(images - _IMAGE_COLUMNS - set(_IMAGE_ALIASES))
        if extra:
            era += f"; image columns kept as metadata: {', '.join(extra)}"
        return era


def read_schema(source: Source) -> Schema:
    """Return the source's schema; raise OriginalInvalid naming a missing table or column."""
    tables = source.table_columns()
    for table, columns in REQUIRED.items():
        if table not in tables:
            raise OriginalInvalid(
                f"{source.description} has no table {table}: is it a backup of the original EyeTagger's database "
                "(pg_dump -U eyetagger_admin eyetagger)?"
            )
        present = {_IMAGE_ALIASES.get(c, c) for c in tables[table]} if table == IMAGES else set(tables[table])
        missing = [c for c in columns if c not in present]
        if missing:
            raise OriginalInvalid(
                f"{source.description}: the table {table} has no column {', '.join(missing)} "
                f"(its columns: {', '.join(tables[table])})."
            )
    migrations = []
    if MIGRATIONS in tables:
        migrations = [row["name"] for _, row in source.rows(MIGRATIONS) if row.get("app") == "api"]
    return Schema(
        users=tables[USERS],
        images=tables[IMAGES],
        annotations=tables[ANNOTATIONS],
        has_profiles=PROFILES in tables,
        has_tokens=TOKENS in tables,
        migrations=migrations,
    )


# --- Values ---------------------------------------------------------------------------------


def _where(table: str, key, line: int | None) -> str:
    return f"{table} {key}" + (f" (dump line {line})" if line else "")


def _int(value, where: str, column: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        raise OriginalInvalid(f"{where}: {column} must be a whole number; got {value!r:.40}.") from None


def _bool(value, where: str, column: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("t", "true", "1", "y", "yes", "on"):
        return True
    if text in ("f", "false", "0", "n", "no", "off"):
        return False
    raise OriginalInvalid(f"{where}: {column} must be a boolean; got {value!r:.40}.")


def _datetime(value, where: str, column: str) -> datetime | None:
    """Return a timestamp as an aware datetime; the dump prints the database's offsets (-04, -05)."""
    if value is None or value in ("infinity", "-infinity"):
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise OriginalInvalid(f"{where}: {column} is not a timestamp; got {value!r:.40}.") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _text(value) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def ground_truth_value(value) -> str | None:
    """Return a ground truth as the original stored it, or None: NULL, '' and 'nan' (pandas' empty cell) are none."""
    text = _text(value)
    if text is None or text.strip() == "" or text.strip().lower() == "nan":
        return None
    return text


# --- Tables ---------------------------------------------------------------------------------


def read_users(source: Source, schema: Schema) -> list[OriginalUser]:
    """Return every user with their test flag (a missing profile: not a test user) and token."""
    is_test: dict[int, bool] = {}
    if schema.has_profiles:
        for line, row in source.rows(PROFILES):
            where = _where(PROFILES, f"id {row.get('id')}", line)
            is_test[_int(row.get("user_id"), where, "user_id")] = bool(_bool(row.get("is_test"), where, "is_test"))
    tokens: dict[int, str] = {}
    if schema.has_tokens:
        for line, row in source.rows(TOKENS):
            where = _where(TOKENS, "row", line)
            if row.get("key"):
                tokens[_int(row.get("user_id"), where, "user_id")] = _text(row["key"])
    users = []
    for line, row in source.rows(USERS):
        where = _where(USERS, f"id {row.get('id')}", line)
        user_id = _int(row.get("id"), where, "id")
        username = _text(row.get("username"))
        if not username:
            raise OriginalInvalid(f"{where}: the user has no username.")
        users.append(
            OriginalUser(
                id=user_id,
                username=username,
                email=_text(row.get("email")) or "",
                password=_text(row.get("password")) or "",
                first_name=_text(row.get("first_name")) or "",
                last_name=_text(row.get("last_name")) or "",
                is_staff=bool(_bool(row.get("is_staff"), where, "is_staff")),
                is_superuser=bool(_bool(row.get("is_superuser"), where, "is_superuser")),
                is_active=_bool(row.get("is_active", True), where, "is_active") is not False,
                last_login=_datetime(row.get("last_login"), where, "last_login"),
                date_joined=_datetime(row.get("date_joined"), where, "date_joined"),
                is_test=is_test.get(user_id, False),
                token=tokens.get(user_id),
            )
        )
    return users


def read_images(source: Source, schema: Schema) -> list[OriginalImage]:
    """Return every image row, keeping every column beyond the known ones as metadata."""
    images = []
    has_ground_truth = "ground_truth" in schema.images
    booleans = {c for c, kind in source.column_types(IMAGES).items() if kind.startswith("boolean")}
    for line, raw in source.rows(IMAGES):
        row = {_IMAGE_ALIASES.get(column, column): value for column, value in raw.items()}
        where = _where(IMAGES, f"id {row.get('id')}", line)
        img_id = (_text(row.get("img_id")) or "").strip().lower()
        if not img_id:
            raise OriginalInvalid(f"{where}: the image has no img_id.")
        extra = {}
        for column, value in row.items():
            if column in _IMAGE_COLUMNS or value is None:
                continue
            if column in booleans:  # 't' in a dump, True from the database: "true" either way
                value = "true" if _bool(value, where, column) else "false"
            extra[column] = _text(value)
        images.append(
            OriginalImage(
                id=_int(row["id"], where, "id") if row.get("id") is not None else None,
                img_id=img_id,
                extension=_text(row.get("extension")) or "",
                img_path=(_text(row.get("img_path")) or "").lstrip("/"),
                ground_truth=ground_truth_value(row.get("ground_truth")),
                has_ground_truth_column=has_ground_truth,
                extra=extra,
                where=where,
            )
        )
    return images


def read_annotations(source: Source) -> Iterator[OriginalAnnotation]:
    """Yield every annotation row, one at a time, in the source's order."""
    for line, row in source.rows(ANNOTATIONS):
        where = _where(ANNOTATIONS, f"id {row.get('id')}", line)
        yield OriginalAnnotation(
            id=_int(row.get("id"), where, "id"),
            annotator_id=_int(row.get("annotator_id"), where, "annotator_id"),
            image_id=(_text(row.get("image_id")) or "").strip().lower(),
            annotation=_text(row.get("annotation")) or "",
            text=_text(row.get("text")),
            real_button=_bool(row.get("real_button"), where, "real_button"),
            fake_button=_bool(row.get("fake_button"), where, "fake_button"),
            ground_truth=_text(row.get("ground_truth")),
            svg=_text(row.get("annotation_svg")),
            times=_text(row.get("annotation_times")),
            where=where,
        )


def untouched_text(text: str | None) -> bool:
    """Return True if the text is the original's placeholder (or absent): nobody typed anything."""
    return text is None or text in PLACEHOLDER_TEXTS
