"""Fuzz inputs for the channel parsers: random JSON, and documented payloads with parts broken.

Each parser test passes the strings its platform cares about (ids, enum values, timestamps), so
random values sometimes hit the branches a purely random string never would.
"""

from __future__ import annotations

import copy

from hypothesis import strategies as st

# What every platform can be sent: empty, over the 64 KiB text limit, a lone surrogate, a NUL.
EDGE_STRINGS = ("", "x" * 70_000, "\ud800", "\x00")


def json_values(*interesting: str) -> st.SearchStrategy:
    """Any JSON document, its strings sometimes the edge cases above or one of ``interesting``."""
    return st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
        | st.sampled_from([*EDGE_STRINGS, *interesting]),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
        max_leaves=12)


def _paths(node, prefix=()):
    yield prefix
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in children:
        yield from _paths(child, (*prefix, key))


@st.composite
def mutated(draw, examples, values):
    """A documented payload with a few values replaced by a draw from ``values`` or removed."""
    doc = copy.deepcopy(draw(st.sampled_from(examples)))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(list(_paths(doc))))
        if not path:
            return draw(values)
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(values)
    return doc
