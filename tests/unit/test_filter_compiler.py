"""The filter model and its compiler to ClickHouse SQL: pure, no database."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from queries.columns import CATALOGUE, FUNCTIONS_BY_TYPE, FilterError, describe, lookup
from queries.compiler import BUILDERS, compile_filter, compile_search, decode_cursor, encode_cursor
from schemas.filters import FUNCTIONS, VALUE_CHECKS, Group, SearchRequest, Sort

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
INJECTIONS = [
    "'; DROP TABLE users; --", "\\'; DROP TABLE users; --", "1' OR '1'='1", "') OR 1=1 --", "{bot_id:String}",
    "{p0:String}", "`users`", '" OR ""="', "%s", "%(bot_id)s", "*/ SELECT 1 /*", "x\x00y", "a\nb\tc",
    "name FROM users --", "1; SELECT * FROM system.tables", "\\", "$$ $tag$", "Robert'); DELETE FROM users;--",
]
SAMPLE_VALUES = {"string": "x", "number": 1, "datetime": "2026-01-01", "boolean": None, "tags": "x",
                 "attribute": "x"}


def where(*filters: dict, match: str = "all") -> tuple[str, dict]:
    return compile_filter(Group.model_validate({"match": match, "filters": list(filters)}), "demo", now=NOW)


def cond(column: str, function: str, value=None) -> dict:
    return {"column": column, "function": function, "value": value}


def value_for(function: str, column_type: str):
    if function in ("is_set", "is_not_set", "is_true", "is_false"):
        return None
    if function == "in_list":
        return ["a", "b"]
    if function == "between":
        return ["2026-01-01", "2026-02-01"] if column_type == "datetime" else [1, 2]
    if function in ("within_last_days", "more_than_days_ago"):
        return 7
    if function in ("before", "after"):
        return "2026-01-01"
    if function in ("eq", "ne", "gt", "gte", "lt", "lte"):
        return 1
    return "x"


class TestFilterModel:
    def test_a_nested_group_parses_into_groups_and_conditions(self):
        group = Group.model_validate({"match": "any", "filters": [
            cond("country", "equals", "Poland"), {"match": "all", "filters": [cond("tags", "has", "vip")]}]})
        assert group.match == "any" and isinstance(group.filters[1], Group)
        assert group.filters[1].filters[0].column == "tags"

    @pytest.mark.parametrize("function, value", [
        ("between", [1]), ("between", [1, 2, 3]), ("between", [2, 1]), ("between", [1, "2026-01-01"]),
        ("between", ["2026-02-01", "2026-01-01"]), ("in_list", []), ("in_list", "Poland"), ("in_list", [1]),
        ("is_set", "x"), ("is_true", True), ("before", "yesterday"), ("after", "01/02/2026"), ("before", 5),
        ("within_last_days", -1), ("within_last_days", "7"), ("gt", "5"), ("gt", True), ("eq", float("nan")),
        ("equals", None), ("equals", 5), ("equals", "x" * 1001), ("before", "1800-01-01"),
    ])
    def test_a_value_that_does_not_fit_its_function_is_rejected_with_what_was_expected(self, function, value):
        with pytest.raises(ValidationError) as error:
            Group.model_validate({"filters": [cond("c", function, value)]})
        assert "expected" in str(error.value) or "takes no value" in str(error.value)

    @pytest.mark.parametrize("function, value", [
        ("between", [1, 2.5]), ("between", ["2026-01-01", "2026-01-01"]), ("in_list", ["a"]), ("is_set", None),
        ("before", "2026-01-31T09:30:00Z"), ("after", "2026-01-31T09:30:00+02:00"), ("within_last_days", 0),
        ("more_than_days_ago", 1.5), ("gt", -3), ("equals", ""),
    ])
    def test_values_that_fit_their_function_are_accepted(self, function, value):
        Group.model_validate({"filters": [cond("c", function, value)]})

    def test_an_unknown_function_names_the_valid_ones(self):
        with pytest.raises(ValidationError) as error:
            Group.model_validate({"filters": [cond("name", "like", "x")]})
        assert "'equals'" in str(error.value) and "'within_last_days'" in str(error.value)

    def test_groups_nest_at_most_five_levels(self):
        group: dict = {"filters": [cond("name", "is_set")]}
        for _ in range(4):
            group = {"match": "any", "filters": [group]}
        Group.model_validate(group)
        with pytest.raises(ValidationError, match="at most 5 levels"):
            Group.model_validate({"filters": [group]})

    def test_a_filter_holds_at_most_one_hundred_conditions(self):
        half = {"filters": [cond("name", "is_set")] * 60}
        with pytest.raises(ValidationError, match="at most 100 conditions"):
            Group.model_validate({"filters": [half, half]})

    def test_unknown_fields_are_rejected(self):
        with pytest.raises(ValidationError):
            Group.model_validate({"filters": [{**cond("name", "is_set"), "sql": "1=1"}]})
        with pytest.raises(ValidationError):
            SearchRequest.model_validate({"order_by": "name"})

    def test_a_search_request_defaults_to_newest_last_seen_and_fifty_rows(self):
        request = SearchRequest()
        assert (request.sort.column, request.sort.direction, request.limit, request.cursor) == \
               ("last_seen", "desc", 50, None)

    @pytest.mark.parametrize("limit", [0, 1001, -5])
    def test_limit_is_between_1_and_1000(self, limit):
        with pytest.raises(ValidationError):
            SearchRequest(limit=limit)


class TestCatalogue:
    def test_every_function_of_the_model_has_a_builder_and_a_value_check(self):
        assert set(BUILDERS) == set(FUNCTIONS) == set(VALUE_CHECKS)

    def test_every_function_fits_at_least_one_column_type(self):
        assert set(FUNCTIONS) == {f for functions in FUNCTIONS_BY_TYPE.values() for f in functions}

    def test_the_catalogue_has_every_profile_attribute_metric_and_list(self):
        assert set(CATALOGUE) == {
            "user_id", "name", "email", "country", "city", "region", "language", "referrer", "ip", "timezone",
            "integration", "source", "gender", "username", "avatar", "external_user_id", "banned", "channel",
            "sessions", "messages_sent", "clicks", "time_spent_seconds", "avg_sentiment", "first_seen",
            "last_seen", "last_message_at", "tags", "segments"}

    def test_labels_use_the_users_page_words(self):
        labels = {c.name: c.label for c in CATALOGUE.values()}
        assert (labels["name"], labels["last_seen"], labels["messages_sent"], labels["ip"]) == \
               ("Name", "Last seen", "Messages sent", "IP")

    def test_describe_lists_columns_with_their_functions(self):
        described = {c["name"]: c for c in describe()}
        assert described["banned"]["functions"] == ["is_true", "is_false"]
        assert "gt" in described["attributes.<key>"]["functions"]
        assert described["avg_sentiment"]["functions"][-2:] == ["is_set", "is_not_set"]

    @pytest.mark.parametrize("key", ["plan", "a.b-c_9", "x" * 128])
    def test_an_attribute_column_accepts_keys_of_the_documented_alphabet(self, key):
        assert lookup(f"attributes.{key}").key == key

    @pytest.mark.parametrize("key", ["", "x" * 129, "plan'] OR 1=1 --", "a b", "ключ", "a]"])
    def test_an_attribute_key_outside_the_alphabet_is_an_error(self, key):
        with pytest.raises(FilterError, match="attribute key"):
            lookup(f"attributes.{key}")


class TestCompiledSql:
    def test_a_condition_becomes_a_named_parameter(self):
        sql, params = where(cond("country", "equals", "Poland"))
        assert sql == ("SELECT user_id FROM users FINAL WHERE bot_id = {bot_id:String} AND is_deleted = 0 "
                       "AND ((country = {p0:String}))")
        assert params == {"bot_id": "demo", "p0": "Poland"}

    def test_the_bot_condition_stays_outside_an_any_group(self):
        sql, _ = where(cond("country", "equals", "A"), cond("city", "equals", "B"), match="any")
        assert sql.endswith("WHERE bot_id = {bot_id:String} AND is_deleted = 0 "
                            "AND ((country = {p0:String}) OR (city = {p1:String}))")

    def test_an_empty_filter_matches_every_user_of_the_bot(self):
        sql, params = compile_filter(Group(), "demo", now=NOW)
        assert sql.endswith("WHERE bot_id = {bot_id:String} AND is_deleted = 0 AND 1") and params == {"bot_id": "demo"}

    def test_an_attribute_key_is_a_parameter_and_numbers_compare_as_numbers(self):
        sql, params = where(cond("attributes.seats", "gt", 10))
        assert "toFloat64OrNull(attributes[{p0:String}]) > {p1:Float64}" in sql
        assert (params["p0"], params["p1"]) == ("seats", 10.0)

    def test_an_attribute_compares_as_a_date_only_when_it_starts_like_one(self):
        sql, params = where(cond("attributes.renewal", "before", "2026-04-01"))
        assert "if(match(attributes[{p0:String}], '^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]')" in sql
        assert params["p1"] == "2026-04-01 00:00:00.000"

    def test_dates_are_bound_in_utc_with_milliseconds(self):
        _, params = where(cond("last_seen", "after", "2026-01-31T09:30:00.123+02:00"))
        assert params["p0"] == "2026-01-31 07:30:00.123"

    def test_a_bare_date_means_the_whole_utc_day(self):
        sql, params = where(cond("last_seen", "between", ["2026-01-01", "2026-01-31"]))
        assert "(last_seen >= {p0:DateTime64(3, 'UTC')} AND last_seen < {p1:DateTime64(3, 'UTC')})" in sql
        assert (params["p0"], params["p1"]) == ("2026-01-01 00:00:00.000", "2026-02-01 00:00:00.000")
        _, params = where(cond("last_seen", "after", "2026-01-31"))
        assert params["p0"] == "2026-02-01 00:00:00.000"

    def test_relative_days_count_back_from_the_given_now(self):
        _, params = where(cond("last_seen", "within_last_days", 7))
        assert params["p0"] == "2026-02-22 12:00:00.000"

    def test_negative_functions_are_the_complement_including_missing_values(self):
        sql, _ = where(cond("avg_sentiment", "ne", 0))
        assert "NOT ifNull(avg_sentiment = {p0:Float64}, 0)" in sql

    @pytest.mark.parametrize("name", sorted(CATALOGUE) + ["attributes.plan"])
    def test_every_function_of_every_column_compiles(self, name):
        column = lookup(name)
        for function in column.functions:
            sql, params = where(cond(name, function, value_for(function, column.type)))
            assert sql.count("{bot_id:String}") == 1
            assert set(re.findall(r"\{(\w+):", sql)) == set(params)


class TestCompileErrors:
    def test_a_function_that_does_not_fit_the_column_says_which_do(self):
        with pytest.raises(FilterError) as error:
            where(cond("name", "gt", 5))
        assert error.value.location == "filter.filters[0].function"
        assert "'gt' does not fit 'name' (string); use one of: equals, not_equals, contains" in str(error.value)

    def test_an_unknown_column_suggests_a_close_name_and_lists_a_few(self):
        with pytest.raises(FilterError) as error:
            where({"match": "any", "filters": [cond("countr", "equals", "x")]})
        assert error.value.location == "filter.filters[0].filters[0].column"
        assert "did you mean 'country'?" in error.value.message and "last_seen" in error.value.message

    def test_between_on_a_date_column_takes_dates(self):
        with pytest.raises(FilterError, match="takes two ISO 8601 dates"):
            where(cond("last_seen", "between", [1, 2]))
        with pytest.raises(FilterError, match="takes two numbers"):
            where(cond("sessions", "between", ["2026-01-01", "2026-01-02"]))

    def test_lists_cannot_be_sorted(self):
        with pytest.raises(FilterError, match="cannot be sorted"):
            compile_search(SearchRequest(sort=Sort(column="tags")), "demo", now=NOW)

    def test_an_unknown_selected_column_names_its_position(self):
        with pytest.raises(FilterError) as error:
            compile_search(SearchRequest(columns=["name", "nope"]), "demo", now=NOW)
        assert error.value.location == "columns[1]"


class TestSearchSql:
    def test_a_page_orders_by_sort_value_missing_last_then_user_id_and_fetches_one_extra_row(self):
        query = compile_search(SearchRequest(limit=10), "demo", now=NOW)
        assert query.sql.endswith("ORDER BY sort_key IS NULL, sort_key DESC, user_id\nLIMIT {limit:UInt32}")
        assert query.parameters["limit"] == 11 and query.limit == 10
        assert query.columns == ("user_id", "name", "email", "last_seen", "first_seen")

    def test_text_sorts_empty_values_last(self):
        query = compile_search(SearchRequest(sort=Sort(column="name", direction="asc")), "demo", now=NOW)
        assert "nullIf(name, '') AS sort_key" in query.sql and "sort_key ASC" in query.sql

    def test_the_count_query_has_the_filter_but_not_the_cursor(self):
        cursor = encode_cursor(Sort(), datetime(2026, 1, 1, tzinfo=UTC), "web:a")
        request = SearchRequest.model_validate({"filter": {"filters": [cond("country", "equals", "PL")]},
                                                "cursor": cursor})
        query = compile_search(request, "demo", now=NOW)
        assert query.count_parameters == {"bot_id": "demo", "p0": "PL"}
        assert "user_id >" not in query.count_sql and "last_seen < {p2:DateTime64(3, 'UTC')}" in query.sql

    def test_selected_columns_are_aliased_by_position_and_user_id_comes_first(self):
        query = compile_search(SearchRequest(columns=["attributes.plan", "user_id", "channel"]), "demo", now=NOW)
        assert query.columns == ("user_id", "attributes.plan", "channel")
        assert "SELECT user_id, attributes[{p0:String}] AS c0, channels AS c1, last_seen AS sort_key" in query.sql


class TestCursor:
    @pytest.mark.parametrize("column, value", [
        ("last_seen", datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)), ("last_seen", None),
        ("sessions", 7), ("avg_sentiment", 0.1234567890123), ("name", "Zoë 'quoted'"), ("banned", 1),
        ("attributes.plan", "pro")])
    def test_a_cursor_round_trips_its_sort_value_and_user_id(self, column, value):
        sort = Sort(column=column, direction="asc")
        assert decode_cursor(encode_cursor(sort, value, "web:ü"), sort) == (value, "web:ü")

    def test_a_cursor_is_url_safe_text(self):
        assert re.fullmatch(r"[A-Za-z0-9_-]+", encode_cursor(Sort(), None, "web:a?&/"))

    def test_a_cursor_of_another_sort_is_rejected(self):
        cursor = encode_cursor(Sort(column="name"), "Ann", "web:a")
        with pytest.raises(FilterError, match="belongs to sort 'name'"):
            decode_cursor(cursor, Sort())

    @pytest.mark.parametrize("cursor", ["", "not base64!", "e30", "bnVsbA"] + INJECTIONS)
    def test_a_cursor_not_issued_by_the_api_is_rejected(self, cursor):
        with pytest.raises(FilterError, match="not a cursor this API issued"):
            decode_cursor(cursor, Sort())

    @pytest.mark.parametrize("column, value", [("sessions", "1; DROP TABLE users"), ("banned", True),
                                               ("banned", 2), ("last_seen", "yesterday"), ("name", 5)])
    def test_a_cursor_whose_value_has_the_wrong_type_is_rejected(self, column, value):
        cursor = encode_cursor(Sort(column=column), value, "web:a")
        with pytest.raises(FilterError, match="not a cursor"):
            decode_cursor(cursor, Sort(column=column))


class TestUserInputNeverBecomesSql:
    @staticmethod
    def search_with(text: str):
        filters = [cond("name", f, text) for f in ("equals", "contains", "starts_with", "ends_with")]
        filters += [cond("tags", "has", text), cond("channel", "in_list", [text]), cond("attributes.k", "equals", text)]
        request = SearchRequest.model_validate({"filter": {"match": "any", "filters": filters},
                                                "sort": {"column": "name"},
                                                "cursor": encode_cursor(Sort(column="name"), text, text)})
        return compile_search(request, text, now=NOW)

    @pytest.mark.parametrize("text", INJECTIONS)
    def test_injection_strings_end_up_only_in_parameters(self, text):
        query, reference = self.search_with(text), self.search_with("v")
        assert (query.sql, query.count_sql) == (reference.sql, reference.count_sql)
        assert [k for k, v in query.parameters.items() if v in (text, [text])] == \
               ["bot_id", "p0", "p1", "p2", "p3", "p4", "p5", "p7", "p8", "p9"]

    @pytest.mark.parametrize("text", INJECTIONS)
    def test_injection_strings_as_column_or_sort_are_errors(self, text):
        with pytest.raises(FilterError):
            where(cond(text, "equals", "x"))
        with pytest.raises(FilterError):
            where(cond(f"attributes.{text}", "equals", "x"))
        with pytest.raises(FilterError):
            compile_search(SearchRequest(sort=Sort(column=text)), "demo", now=NOW)
        with pytest.raises(FilterError):
            compile_search(SearchRequest(columns=[text]), "demo", now=NOW)

    @given(value=st.text(max_size=200), key=st.from_regex(r"[A-Za-z0-9_.-]{1,128}", fullmatch=True))
    def test_the_sql_text_does_not_depend_on_values_or_attribute_keys(self, value, key):
        sql, params = where(cond(f"attributes.{key}", "contains", value), cond("email", "in_list", [value, "x"]))
        reference, _ = where(cond("attributes.k", "contains", "v"), cond("email", "in_list", ["v", "x"]))
        assert sql == reference and params["p0"] == key and params["p1"] == value
