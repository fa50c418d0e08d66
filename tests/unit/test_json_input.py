import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.json_input import TooDeep, depth, loads
from schemas.limits import MAX_JSON_DEPTH

documents = st.recursive(st.none() | st.integers() | st.text(alphabet="{[]}ab\"", max_size=5),
                         lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                                        max_size=3),
                         max_leaves=40)


def deep(levels: int, inner: str = "1") -> str:
    return "[" * (levels - 1) + '{"a": ' + inner + "}" + "]" * (levels - 1)


@pytest.mark.parametrize("data", [deep(MAX_JSON_DEPTH), deep(MAX_JSON_DEPTH).encode(),
                                  json.dumps([[1]] * 200),                       # many brackets, two levels
                                  json.dumps({"text": "[" * 500 + "{" * 500})])  # brackets inside a string
def test_a_document_nested_to_the_limit_is_read(data):
    assert loads(data) == json.loads(data)


@pytest.mark.parametrize("data", [deep(MAX_JSON_DEPTH + 1), deep(MAX_JSON_DEPTH + 1).encode(),
                                  deep(MAX_JSON_DEPTH + 1, json.dumps("[" * 500))])
def test_a_document_nested_past_the_limit_is_refused_by_name(data):
    with pytest.raises(TooDeep, match=f"nested deeper than {MAX_JSON_DEPTH} levels"):
        loads(data)


@given(documents, st.integers(min_value=MAX_JSON_DEPTH - 3, max_value=MAX_JSON_DEPTH + 3))
def test_a_document_is_refused_exactly_when_it_nests_past_the_limit(inner, levels):
    data = json.dumps([inner])
    for _ in range(levels - 1):
        data = "[" + data + "]"
    value = json.loads(data)
    if depth(value) > MAX_JSON_DEPTH:
        with pytest.raises(TooDeep):
            loads(data)
    else:
        assert loads(data) == value
