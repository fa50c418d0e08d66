"""Segment definitions: ids from names, topic records, the registry, and the compiler resolving dynamic ones."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from pipeline.core.segments import SegmentChange, SegmentError, SegmentRegistry, slug
from pipeline.kafka.codecs import decode_segment, encode_segment, encode_segment_deletion
from queries.columns import FilterError
from queries.compiler import MAX_SEGMENT_DEPTH, compile_counts, compile_filter
from schemas.filters import Group
from schemas.segments import Segment, SegmentCreate, SegmentPatch

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
PRO = Group.model_validate({"filters": [{"column": "attributes.plan", "function": "equals", "value": "pro"}]})


@dataclass
class Record:   # what aiokafka hands the parser: key and value bytes, and an offset
    key: bytes
    value: bytes | None
    offset: int = 0


def segment(segment_id="pro", kind="dynamic", filter=PRO, at=T0, name=None) -> Segment:
    return Segment(segment_id=segment_id, name=name or segment_id, kind=kind,
                   filter=filter if kind == "dynamic" else None, created_at=T0, updated_at=at)


def has(segment_id: str, function: str = "has") -> Group:
    return Group.model_validate({"filters": [{"column": "segments", "function": function, "value": segment_id}]})


class TestIdsAndValidation:
    @pytest.mark.parametrize("name, expected", [
        ("Newsletter", "newsletter"), ("Pro users in Poland", "pro-users-in-poland"), ("Café crème", "cafe-creme"),
        ("  VIP!!  buyers ", "vip-buyers"), ("beta_testers-2", "beta_testers-2"), ("x" * 80, "x" * 64),
        ("a" * 63 + " b", "a" * 63), ("Früh 😀 Kunden", "fruh-kunden"),
    ])
    def test_the_id_is_a_slug_of_the_name(self, name, expected):
        assert slug(name) == expected

    @pytest.mark.parametrize("name", ["😀😀", "---", "中文"])
    def test_a_name_without_letters_or_digits_makes_no_id_and_says_so(self, name):
        with pytest.raises(SegmentError, match="needs a letter or digit"):
            slug(name)

    def test_a_dynamic_segment_needs_a_filter_and_a_static_one_takes_none(self):
        with pytest.raises(ValidationError, match="a dynamic segment needs a filter"):
            SegmentCreate(name="Pro", kind="dynamic")
        with pytest.raises(ValidationError, match="a static segment takes no filter"):
            SegmentCreate(name="Pro", kind="static", filter=PRO)
        assert SegmentCreate(name="Pro").kind == "static"

    @pytest.mark.parametrize("name", ["", "   ", "tab\there"])
    def test_a_blank_or_unprintable_name_is_refused(self, name):
        with pytest.raises(ValidationError):
            SegmentCreate(name=name)

    def test_a_patch_changes_something(self):
        with pytest.raises(ValidationError, match="give a new name, a new filter, or both"):
            SegmentPatch()
        assert SegmentPatch(name="New").filter is None


class TestRecords:
    def test_a_definition_reads_back_from_its_record(self):
        original = segment()
        change = decode_segment(Record(b"demo:pro", encode_segment(original)))
        assert change == SegmentChange("demo", "pro", original, T0)

    def test_a_bot_id_with_a_colon_keeps_it(self):
        assert decode_segment(Record(b"team:eu:pro", encode_segment(segment()))).bot_id == "team:eu"

    def test_a_deletion_record_and_a_tombstone_both_delete(self):
        deleted = decode_segment(Record(b"demo:pro", encode_segment_deletion("pro", T0)))
        assert (deleted.segment, deleted.at) == (None, T0)
        assert json.loads(encode_segment_deletion("pro", T0)) == {"segment_id": "pro", "deleted": True,
                                                          "updated_at": T0.isoformat()}
        assert decode_segment(Record(b"demo:pro", None)) == SegmentChange("demo", "pro", None, None)

    def test_a_record_whose_key_and_value_disagree_is_refused(self):
        with pytest.raises(SegmentError):
            decode_segment(Record(b"demo:other", encode_segment(segment())))


class TestRegistry:
    def test_applied_definitions_are_listed_per_bot_by_id(self):
        registry = SegmentRegistry()
        for bot, s in [("demo", segment("b")), ("demo", segment("a", kind="static")), ("acme", segment("c"))]:
            registry.apply(SegmentChange(bot, s.segment_id, s, s.updated_at))
        assert [s.segment_id for s in registry.list("demo")] == ["a", "b"]
        assert registry.get("acme", "a") is None and registry.get("demo", "a").kind == "static"
        assert registry.dynamic_filters("demo") == {"b": PRO}

    def test_a_deletion_removes_the_segment_and_a_later_definition_brings_it_back(self):
        registry = SegmentRegistry()
        registry.apply(SegmentChange("demo", "pro", segment(), T0))
        registry.apply(SegmentChange("demo", "pro", None, T0 + timedelta(seconds=1)))
        assert registry.get("demo", "pro") is None and registry.list("demo") == []
        again = segment(at=T0 + timedelta(seconds=2))
        registry.apply(SegmentChange("demo", "pro", again, again.updated_at))
        assert registry.get("demo", "pro") == again

    def test_an_older_record_read_after_this_workers_own_write_does_not_set_it_back(self):
        registry = SegmentRegistry()
        renamed = segment(name="Pro buyers", at=T0 + timedelta(seconds=5))
        registry.apply(SegmentChange("demo", "pro", renamed, renamed.updated_at))     # read your writes
        registry.apply(SegmentChange("demo", "pro", segment(), T0))                   # the follower catches up
        assert registry.get("demo", "pro").name == "Pro buyers"
        registry.apply(SegmentChange("demo", "pro", None, T0 + timedelta(seconds=1)))  # an older deletion
        assert registry.get("demo", "pro") is not None
        registry.apply(SegmentChange("demo", "pro", None, None))                      # a tombstone always wins
        assert registry.get("demo", "pro") is None


NOW = datetime(2026, 11, 2, tzinfo=UTC)


def compiled(group: Group, segments: dict[str, Group]) -> tuple[str, dict]:
    return compile_filter(group, "demo", now=NOW, segments=segments)


class TestCompilerResolvesDynamicSegments:
    def test_has_a_dynamic_segment_compiles_to_its_saved_filter(self):
        sql, params = compiled(has("pro"), {"pro": PRO})
        direct, direct_params = compiled(PRO, {})
        assert params == direct_params and direct.split("is_deleted = 0 AND ")[1] in sql
        assert "segments" not in sql.split("WHERE", 1)[1]

    def test_has_not_is_the_negation_of_the_saved_filter(self):
        sql, _ = compiled(has("pro", "has_not"), {"pro": PRO})
        assert "NOT ifNull(((" in sql and "attributes[" in sql and "has(segments" not in sql

    def test_a_static_segment_id_stays_a_test_of_the_memberships(self):
        sql, params = compiled(has("newsletter"), {"pro": PRO})
        assert "has(segments, {p0:String})" in sql and params["p0"] == "newsletter"
        assert compiled(has("pro"), {}) [0] == sql   # without definitions every id is static

    def test_in_list_mixes_dynamic_filters_and_static_memberships(self):
        group = Group.model_validate({"filters": [
            {"column": "segments", "function": "in_list", "value": ["newsletter", "pro", "beta"]}]})
        sql, params = compiled(group, {"pro": PRO})
        assert " OR (hasAny(segments, " in sql and "attributes[" in sql
        assert ["newsletter", "beta"] in params.values()

    def test_a_dynamic_segment_inside_another_expands_too(self):
        big = Group.model_validate({"match": "any", "filters": [
            {"column": "sessions", "function": "gt", "value": 5},
            {"match": "all", "filters": [{"column": "segments", "function": "has", "value": "pro"}]}]})
        sql, params = compiled(has("big"), {"big": big, "pro": PRO})
        assert "sessions >" in sql and "attributes[" in sql and "has(segments" not in sql
        assert "pro" in params.values()

    def test_a_cycle_between_dynamic_segments_is_an_error_that_names_it(self):
        a, b = has("b"), has("a")
        with pytest.raises(FilterError, match=r"cycle: a -> b -> a") as error:
            compiled(has("a"), {"a": a, "b": b})
        assert "segment 'a' filter" in error.value.location
        with pytest.raises(FilterError, match=r"cycle: self -> self"):
            compiled(has("self", "has_not"), {"self": has("self")})

    def test_dynamic_segments_nest_only_so_deep(self):
        chain = {f"s{i}": has(f"s{i + 1}") for i in range(MAX_SEGMENT_DEPTH)}
        chain[f"s{MAX_SEGMENT_DEPTH}"] = PRO      # s0 -> s1 -> ... -> s5 (a saved filter): six segments
        with pytest.raises(FilterError, match=f"nest at most {MAX_SEGMENT_DEPTH} deep"):
            compiled(has("s0"), chain)
        compiled(has("s1"), chain)   # five compile

    def test_a_filter_that_expands_into_too_many_conditions_is_refused(self):
        wide = Group.model_validate({"filters": [{"column": "segments", "function": "has", "value": "next"}] * 100})
        with pytest.raises(FilterError, match="more than 1000 conditions"):
            compiled(has("top"), {"top": wide, "next": Group.model_validate({"filters": [PRO.filters[0]] * 100})})

    def test_counts_compile_every_group_into_one_scan_with_the_bot_condition_outside(self):
        sql, params = compile_counts([has("pro"), has("newsletter")], "demo", now=NOW, segments={"pro": PRO})
        assert sql.startswith("SELECT countIf(") and sql.count("countIf(") == 2
        assert sql.endswith("WHERE bot_id = {bot_id:String} AND is_deleted = 0") and params["bot_id"] == "demo"


class TestExportOfASegment:
    def test_a_segment_export_selects_its_members_by_the_segments_filter(self):
        from schemas.exports import ExportRequest
        assert ExportRequest(segment="pro").selection == has("pro")

    @pytest.mark.parametrize("other", [{"user_ids": ["web:a"]}, {"filter": {"filters": []}}])
    def test_a_segment_export_takes_no_other_selection(self, other):
        from schemas.exports import ExportRequest
        with pytest.raises(ValidationError, match="give segment alone"):
            ExportRequest.model_validate({"segment": "pro", **other})
