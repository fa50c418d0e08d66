"""CSV export, pure parts: the SQL a request compiles to and the CSV text values become."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from queries.columns import FilterError
from queries.export import compile_export, csv_chunks, format_value
from schemas.exports import DEFAULT_EXPORT_COLUMNS, DIRECT_LIMIT, ExportRequest
from schemas.filters import Group

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def as_csv(columns: list[str], types: list[str], rows: list[tuple], **kwargs) -> bytes:
    block = [list(values) for values in zip(*rows)] if rows else [[] for _ in columns]
    return b"".join(csv_chunks(columns, types, [block], **kwargs))


def parsed(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


# --- CSV text -------------------------------------------------------------------------------------------

def test_header_row_holds_the_column_names_in_order():
    assert as_csv(["user_id", "attributes.plan", "tags"], ["string", "attribute", "tags"], []) == \
        b"user_id,attributes.plan,tags\r\n"


def test_commas_quotes_and_newlines_are_quoted_and_read_back_unchanged():
    name = 'Doe, "Jo"\nsecond line\r\nthird'
    data = as_csv(["user_id", "name"], ["string", "string"], [("web:1", name), ("web:2", "plain")])
    assert data == b'user_id,name\r\nweb:1,"Doe, ""Jo""\nsecond line\r\nthird"\r\nweb:2,plain\r\n'
    assert parsed(data) == [["user_id", "name"], ["web:1", name], ["web:2", "plain"]]


def test_emoji_and_accents_are_utf8_without_a_byte_order_mark():
    data = as_csv(["name"], ["string"], [("Zoë 😀 Łódź",)])
    assert data == "name\r\nZoë 😀 Łódź\r\n".encode("utf-8")
    assert not data.startswith(b"\xef\xbb\xbf")


def test_missing_values_are_empty_fields():
    data = as_csv(["avg_sentiment", "last_seen", "banned", "tags", "name"],
                  ["number", "datetime", "boolean", "tags", "string"],
                  [(None, None, None, None, None), (float("nan"), None, 0, [], "")])
    assert parsed(data)[1:] == [["", "", "", "", ""], ["", "", "false", "", ""]]


def test_datetimes_are_iso_8601_utc_with_milliseconds_and_z():
    naive = datetime(2026, 1, 2, 3, 4, 5, 678000)                 # chDB hands UTC times back naive
    aware = datetime(2026, 1, 2, 5, 4, 5, 678999, tzinfo=timezone(timedelta(hours=2)))
    data = as_csv(["first_seen", "last_seen"], ["datetime", "datetime"], [(naive, aware)])
    assert parsed(data)[1] == ["2026-01-02T03:04:05.678Z", "2026-01-02T03:04:05.678Z"]


def test_tags_segments_and_channels_are_joined_with_semicolons():
    data = as_csv(["tags", "channel"], ["tags", "tags"], [(["vip", "beta tester", "a,b"], ["web"]), ([], [])])
    assert parsed(data)[1:] == [["vip;beta tester;a,b", "web"], ["", ""]]


def test_numbers_and_booleans_are_written_plainly():
    data = as_csv(["sessions", "time_spent_seconds", "avg_sentiment", "banned"],
                  ["number", "number", "number", "boolean"], [(12, 3600.5, -0.25, 1), (0, 0.0, 0.1, 0)])
    assert parsed(data)[1:] == [["12", "3600.5", "-0.25", "true"], ["0", "0.0", "0.1", "false"]]


@pytest.mark.parametrize(("value", "field"), [
    (None, ""), ("x", "x"), (True, "true"), (False, "false"), (3, "3"), (0.5, "0.5"), (float("nan"), ""),
    (datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC), "2026-05-06T07:08:09.000Z"), (["a", "b"], "a;b"), ((1, None), "1;"),
    ({"plan": "pro", "a": "😀"}, '{"a":"😀","plan":"pro"}'),
    ({"when": datetime(2026, 1, 1)}, '{"when":"2026-01-01T00:00:00.000Z"}'),
])
def test_any_value_becomes_one_field(value, field):
    assert format_value(value) == field


def test_chunks_hold_at_most_chunk_rows_and_report_rows_after_they_are_taken():
    reported: list[int] = []
    rows = [(f"web:{i}",) for i in range(5)]
    chunks = csv_chunks(["user_id"], ["string"], [[[r[0] for r in rows[:3]]], [[r[0] for r in rows[3:]]]],
                        on_rows=reported.append, chunk_rows=2)
    assert next(chunks) == b"user_id\r\n"
    assert next(chunks) == b"web:0\r\nweb:1\r\n" and reported == []
    assert list(chunks) == [b"web:2\r\n", b"web:3\r\nweb:4\r\n"]
    assert reported == [2, 1, 2]


# --- SQL ------------------------------------------------------------------------------------------------

def test_a_filter_export_reads_newest_versions_of_one_bot_in_user_id_order():
    group = Group.model_validate({"filters": [{"column": "country", "function": "equals", "value": "PL"}]})
    query = compile_export("demo", group, ["user_id", "name", "attributes.plan", "tags"], now=NOW)
    assert query.sql == ("SELECT user_id AS c0, name AS c1, attributes[{k0:String}] AS c2, tags AS c3\n"
                         "FROM users FINAL\n"
                         "WHERE bot_id = {bot_id:String} AND is_deleted = 0 AND ((country = {p0:String}))\n"
                         "ORDER BY user_id")
    assert query.parameters == {"bot_id": "demo", "p0": "PL", "k0": "plan"}
    assert query.count_sql == ("SELECT count() FROM users FINAL\n"
                               "WHERE bot_id = {bot_id:String} AND is_deleted = 0 AND ((country = {p0:String}))")
    assert query.count_parameters == {"bot_id": "demo", "p0": "PL"}
    assert (query.columns, query.types) == (("user_id", "name", "attributes.plan", "tags"),
                                            ("string", "string", "attribute", "tags"))


def test_an_id_selection_binds_the_ids_as_one_parameter():
    ids = ["web:1", "x'); DROP TABLE users; --"]
    query = compile_export("demo", ids, ["email"], now=NOW)
    assert ("WHERE bot_id = {bot_id:String} AND is_deleted = 0 "
            "AND user_id IN (SELECT arrayJoin({user_ids:Array(String)}))\n") in query.sql
    assert query.parameters == {"bot_id": "demo", "user_ids": ids}
    assert "DROP" not in query.sql and "DROP" not in query.count_sql


def test_columns_asked_twice_are_written_once():
    query = compile_export("demo", Group(), ["name", "email", "name"], now=NOW)
    assert query.columns == ("name", "email")


def test_an_unknown_column_is_refused_with_the_valid_ones_named():
    with pytest.raises(FilterError) as raised:
        compile_export("demo", Group(), ["name", "emial"], now=NOW)
    assert raised.value.location == "columns[1]"
    assert raised.value.message == ("unknown column 'emial'; did you mean 'email'? columns include name, email, "
                                    "country, sessions, last_seen, tags, segments, channel and attributes.<key>")


def test_an_attribute_key_never_becomes_sql_text():
    with pytest.raises(FilterError):
        compile_export("demo", Group(), ["attributes.x']; DROP TABLE users"], now=NOW)
    query = compile_export("demo", Group(), ["attributes.plan-2.b"], now=NOW)
    assert "plan-2.b" not in query.sql and query.parameters["k0"] == "plan-2.b"


def test_filter_values_and_column_keys_do_not_share_parameter_names():
    group = Group.model_validate({"filters": [{"column": "attributes.plan", "function": "equals", "value": "pro"}]})
    query = compile_export("demo", group, ["attributes.plan", "attributes.seats"], now=NOW)
    assert query.parameters == {"bot_id": "demo", "p0": "plan", "p1": "pro", "k0": "plan", "k1": "seats"}
    assert set(re.findall(r"\{(\w+):", query.sql)) == set(query.parameters)


# --- the request ----------------------------------------------------------------------------------------

def test_a_request_without_a_selection_exports_everyone_with_the_default_columns():
    request = ExportRequest()
    assert request.selection == Group() and tuple(request.columns) == DEFAULT_EXPORT_COLUMNS
    assert DEFAULT_EXPORT_COLUMNS == ("user_id", "name", "email", "last_seen", "first_seen")


def test_a_request_takes_ids_or_a_filter_not_both():
    with pytest.raises(ValidationError, match="give user_ids or filter, not both"):
        ExportRequest.model_validate({"user_ids": ["web:1"], "filter": {"filters": []}})
    assert ExportRequest.model_validate({"user_ids": ["web:1"]}).selection == ["web:1"]


def test_a_request_may_lower_the_direct_limit_but_not_raise_it():
    assert ExportRequest.model_validate({"direct_limit": 0}).direct_limit == 0
    with pytest.raises(ValidationError):
        ExportRequest.model_validate({"direct_limit": DIRECT_LIMIT + 1})
    with pytest.raises(ValidationError):
        ExportRequest.model_validate({"columns": []})


FORMULAS = ['=HYPERLINK("http://x","y")', "@SUM(1+1)", "+cmd|' /C calc'!A0", "-2+3", "\tx", "\rx"]


def test_text_a_spreadsheet_would_run_as_a_formula_is_written_as_text_in_every_text_column():
    rows = parsed(as_csv(["name", "attributes.plan", "tags", "sentiment"], ["string", "attribute", "tags", "number"],
                         [(f, f, [f], -0.5) for f in FORMULAS]))[1:]
    assert [row[:3] for row in rows] == [["'" + f] * 3 for f in FORMULAS]
    assert {row[3] for row in rows} == {"-0.5"}   # numbers stay numbers
    assert parsed(as_csv(["name"], ["string"], [("Ann",), ("a=b",), (" =x",)]))[1:] == [["Ann"], ["a=b"], [" =x"]]   # only a formula's first character counts


def test_machine_consumers_may_turn_the_formula_guard_off():
    rows = parsed(as_csv(["name"], ["string"], [(f,) for f in FORMULAS], guard=False))[1:]
    assert [row[0] for row in rows] == FORMULAS
