"""Reading the original's pg_dump backups without a database, and its tables across its schema eras."""

import gzip
from datetime import datetime, timedelta, timezone

import pytest

from backend.api.original import rows
from backend.api.original.dump import DumpInvalid, PgDump, copy_fields, insert_rows

from . import original_fixtures as fx

STYLES = ["copy", "inserts", "column-inserts", "rows-per-insert"]


def _write(tmp_path, text: str, name="dump.sql", compress=False):
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / (name + (".gz" if compress else ""))
    if compress:
        path.write_bytes(gzip.compress(text.encode(), mtime=0))
    else:
        path.write_text(text)
    return path


def _dump(tmp_path, era="final", style="copy", compress=False, **options):
    text = fx.dump_text(fx.corner_cases(era), style=style, **options)
    return PgDump(_write(tmp_path, text, compress=compress), keep=rows.SMALL_TABLES).scan()


def _all_rows(dump):
    return {table: [row for _, row in dump.rows(table)] for table in dump.table_columns()}


@pytest.fixture(scope="module")
def copy_rows(tmp_path_factory):
    return _all_rows(_dump(tmp_path_factory.mktemp("copy")))


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("style", STYLES)
def test_every_style_pg_dump_writes_gives_the_same_rows(tmp_path, copy_rows, style, compress):
    dump = _dump(tmp_path, style=style, compress=compress)
    assert _all_rows(dump) == copy_rows
    assert dump.row_count("api_annotation") == len(copy_rows["api_annotation"]) == 11
    assert dump.versions["by pg_dump"].startswith("13.4")


def test_a_newer_pg_dumps_restrict_lines_and_settings_are_skipped(tmp_path, copy_rows):
    text = fx.dump_text(fx.corner_cases("final"), pg_version="17.6")
    assert "\\restrict " in text and "\\unrestrict " in text and "transaction_timeout" in text
    dump = PgDump(_write(tmp_path, text), keep=rows.SMALL_TABLES).scan()
    assert _all_rows(dump) == copy_rows


def test_rows_are_read_with_their_columns_by_name_in_either_order(tmp_path):
    chronological = _dump(tmp_path / "a", column_order="chronological")
    alphabetical = _dump(tmp_path / "b", column_order="alphabetical")
    assert chronological.table_columns()["api_annotation"][4:] == [
        "text",
        "real_button",
        "fake_button",
        "ground_truth",
        "annotation_svg",
        "annotation_times",
    ]
    assert alphabetical.table_columns()["api_annotation"][4:] == [
        "annotation_svg",
        "annotation_times",
        "fake_button",
        "ground_truth",
        "real_button",
        "text",
    ]
    strip = lambda r: {**r.__dict__, "where": None}  # noqa: E731
    assert [strip(r) for r in rows.read_annotations(chronological)] == [
        strip(r) for r in rows.read_annotations(alphabetical)
    ]


def test_copy_text_is_unescaped():
    line = b"a\\tb\\nc\\\\d\\r\t\\N\t\\101\\x42\\q\t\xc3\xa9"
    assert copy_fields(line, "utf-8") == ["a\tb\nc\\d\r", None, "ABq", "é"]


def test_insert_values_are_read_as_copy_gives_them():
    text = (
        "(1, 'it''s', NULL, true, false, -2.5e3, E'a\\nb\\'c', 'x'::text, "
        "'2024-06-24 10:00:00-04'::timestamp with time zone),\n\t(2, '', '', false, true, 0, '', '', '');"
    )
    first, second = insert_rows(text)
    assert first == ["1", "it's", None, "t", "f", "-2.5e3", "a\nb'c", "x", "2024-06-24 10:00:00-04"]
    assert second[:3] == ["2", "", ""]
    with pytest.raises(ValueError, match="expected ',' or ';'"):
        list(insert_rows("(1, 2) (3, 4);"))


def test_an_insert_spanning_lines_with_quotes_and_semicolons_in_its_strings(tmp_path):
    text = fx.dump_text(fx.Deployment("final", [], [], []), style="inserts")
    text = text.replace(
        "-- Data for Name: api_message;",
        "-- Data for Name: api_message;\n--\n\n"
        "INSERT INTO public.api_message VALUES (1, 'a;\n''b'';', 'line\n\nend;');\n--",
    )
    dump = PgDump(_write(tmp_path, text)).scan()
    assert [row for _, row in dump.rows("api_message")] == [{"id": "1", "subject": "a;\n'b';", "body": "line\n\nend;"}]


# --- Damaged backups: refused, naming the line ---------------------------------------------------


def test_a_dump_cut_inside_a_copy_block_is_refused(tmp_path):
    text = fx.dump_text(fx.corner_cases("final"))
    cut = text.index("\n", text.index("COPY public.api_annotation") + 2000)
    with pytest.raises(DumpInvalid, match=r"ends inside the data of api_annotation \(COPY at line \d+, no closing"):
        PgDump(_write(tmp_path, text[: cut + 1])).scan()


def test_a_dump_cut_after_its_data_is_refused(tmp_path):
    text = fx.dump_text(fx.corner_cases("final"))
    with pytest.raises(DumpInvalid, match="without pg_dump's last line .* cut short"):
        PgDump(_write(tmp_path, text[: text.index("-- PostgreSQL database dump complete")])).scan()


def test_a_gzip_cut_short_is_refused(tmp_path):
    data = gzip.compress(fx.dump_text(fx.corner_cases("final")).encode(), mtime=0)
    path = tmp_path / "dump.sql.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DumpInvalid, match="cannot be read past line \\d+.*cut short or damaged"):
        PgDump(path).scan()


def test_an_insert_cut_short_is_refused(tmp_path):
    text = fx.dump_text(fx.corner_cases("final"), style="inserts")
    cut = text.index("INSERT INTO public.api_annotation") + 500
    with pytest.raises(DumpInvalid, match="ends inside the INSERT statement of line \\d+"):
        PgDump(_write(tmp_path, text[:cut])).scan()


def test_a_row_with_a_field_missing_is_refused_naming_its_line(tmp_path):
    text = fx.dump_text(fx.corner_cases("final"))
    lines = text.split("\n")
    k = next(i for i, line in enumerate(lines) if line.startswith("COPY public.auth_user")) + 2
    lines[k] = lines[k].rsplit("\t", 1)[0]
    with pytest.raises(
        DumpInvalid,
        match=f"line {k + 1}: a row of auth_user's data has 10 fields, but its COPY header \\(line {k - 1}\\) names 11",
    ):
        PgDump(_write(tmp_path, "\n".join(lines))).scan()


def test_bytes_that_are_not_utf8_are_refused_naming_the_line(tmp_path):
    text = fx.dump_text(fx.corner_cases("final")).encode()
    k = text.index(b"enter text here")
    path = tmp_path / "dump.sql"
    path.write_bytes(text[:k] + b"\xff\xfe" + text[k:])
    line = text[:k].count(b"\n") + 1
    dump = PgDump(path, keep=rows.SMALL_TABLES).scan()  # api_annotation's rows are decoded on the second pass
    with pytest.raises(DumpInvalid, match=f"line {line}: a row of api_annotation's data cannot be read"):
        list(dump.rows("api_annotation"))


@pytest.mark.parametrize(
    "content, message",
    [
        (b"PGDMP\x01\x0e\x00", "custom-format archive .* pg_restore -f dump.sql"),
        (b"-- x\nSET client_encoding = 'EUC_JP';\n", "encoding EUC_JP"),
        (b"COPY public.t FROM stdin;\n\\.\n", "the COPY of t names no columns"),
    ],
)
def test_what_is_no_plain_dump_is_refused_saying_what_to_do(tmp_path, content, message):
    path = tmp_path / "backup"
    path.write_bytes(content)
    with pytest.raises(DumpInvalid, match=message):
        PgDump(path).scan()


def test_a_dump_of_several_databases_is_refused(tmp_path):
    text = fx.dump_text(fx.corner_cases("final"))
    body = text[: text.index("--\n-- PostgreSQL database dump complete")]
    with pytest.raises(DumpInvalid, match=r"appears a second time .* \(pg_dumpall\)"):
        PgDump(_write(tmp_path, body + "\\connect other\n\n" + text)).scan()


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(DumpInvalid, match="does not exist"):
        PgDump(tmp_path / "nope.sql.gz").scan()


# --- The tables across the eras -----------------------------------------------------------


@pytest.mark.parametrize(
    "era, expected",
    [
        ("iris", "2020-05 .. 2023-07 (PNG masks only); image columns kept as metadata: eye, is_regular"),
        ("text", "2023-08-03 .. 08-13 (text)"),
        ("buttons", "2023-08-14 .. 2023-11 (real/fake buttons)"),
        ("ground_truth", "2023-11-30 .. 2024-06 (ground truth)"),
        ("final", "2024-06-20 on (final: SVG strokes and stroke times)"),
    ],
)
def test_the_schema_era_is_told_by_the_columns(tmp_path, era, expected):
    schema = rows.read_schema(_dump(tmp_path, era))
    assert schema.era.startswith(expected)
    assert schema.migrations[0] == "0001_initial"


def test_users_keep_their_hash_flags_offsets_profiles_and_tokens(tmp_path):
    dump = _dump(tmp_path)
    users = {u.username: u for u in rows.read_users(dump, rows.read_schema(dump))}
    assert users["admin"].is_superuser and users["admin"].is_staff and users["admin"].token == "a" * 40
    assert users["alice"].password.startswith("pbkdf2_sha256$1000$salt00000002$")
    assert users["alice"].date_joined == datetime(2020, 7, 11, 10, 0, tzinfo=timezone(timedelta(hours=-4)))
    assert users["admin"].date_joined == datetime(2020, 1, 15, 9, 30, 0, 500000, tzinfo=timezone(timedelta(hours=-5)))
    assert users["bob"].is_test and not users["carol"].is_test  # carol has no profile row
    assert users["dave"].password.startswith("!") and not users["dave"].is_active


def test_images_keep_every_other_column_and_nan_is_no_ground_truth(tmp_path):
    dump = _dump(tmp_path, "iris")
    image = rows.read_images(dump, rows.read_schema(dump))[0]
    assert image.extra == {
        "user_id": "04230",
        "sample_id": "1",
        "eye": "L",
        "lens_type": "L",
        "nir_illumination": "C",
        "lens_brand": "Acuvue",
        "is_regular": "true",
    }
    assert not image.has_ground_truth_column
    dump = _dump(tmp_path / "final")
    by_path = {i.img_path: i for i in rows.read_images(dump, rows.read_schema(dump))}
    assert by_path["img1.png"].ground_truth == "real" and by_path["img3.png"].ground_truth is None  # 'nan'
    assert [rows.ground_truth_value(v) for v in (None, "", " nan ", "NaN", "spoof")] == [
        None,
        None,
        None,
        None,
        "spoof",
    ]


def test_the_development_schemas_camel_case_columns_are_read(tmp_path):
    text = fx.dump_text(fx.corner_cases("iris")).replace("img_id", '"imgID"').replace("img_path", '"imgStaticPath"')
    dump = PgDump(_write(tmp_path, text), keep=rows.SMALL_TABLES).scan()
    schema = rows.read_schema(dump)
    assert schema.era.startswith("2020-05-15..19 (development")
    assert len(rows.read_images(dump, schema)[0].img_id) == 64


@pytest.mark.parametrize(
    "table, message",
    [
        ("api_annotation", "has no table api_annotation: is it a backup of the original"),
        ("auth_user", "has no table auth_user"),
    ],
)
def test_a_missing_table_is_a_clear_error(tmp_path, table, message):
    text = (
        fx.dump_text(fx.corner_cases("final"))
        .replace(f"public.{table} ", f"public.other_{table} ")
        .replace(f"public.{table}\n", f"public.other_{table}\n")
    )
    dump = PgDump(_write(tmp_path, text)).scan()
    with pytest.raises(rows.OriginalInvalid, match=message):
        rows.read_schema(dump)


def test_a_value_of_the_wrong_kind_names_its_row(tmp_path):
    text = fx.dump_text(fx.corner_cases("final"))
    text = text.replace("2020-07-11 10:00:00-04\n", "yesterday\n", 1)
    dump = PgDump(_write(tmp_path, text), keep=rows.SMALL_TABLES).scan()
    with pytest.raises(rows.OriginalInvalid, match=r"auth_user id 2 \(dump line \d+\): date_joined is not a timestamp"):
        rows.read_users(dump, rows.read_schema(dump))


def test_the_text_placeholders_are_no_text():
    assert rows.untouched_text("enter text here") and rows.untouched_text("testing") and rows.untouched_text(None)
    assert not rows.untouched_text("enter text here!") and not rows.untouched_text("  ")
