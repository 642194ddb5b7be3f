"""Property-based: any broken inventory exits 2 with one line per problem naming file,
line and field, and never a traceback."""

from __future__ import annotations

import copy
import io
import re
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from tests.helpers import INVENTORY, run_main

# file:line: field: message (a field may be written with quoted keys, so match loosely)
LINE = re.compile(r"^error: (?P<file>[^:]+):(?P<line>\d+): (?P<rest>\S.*: .+)$")
BASE: Any = YAML(typ="safe").load(INVENTORY.read_text())


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


PATHS = _paths(BASE)

junk = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**6), max_value=10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=5,
)


@st.composite
def broken_inventories(draw: st.DrawFn) -> Any:
    data = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(PATHS))
        parent = data
        try:
            for key in path[:-1]:
                parent = parent[key]
            action = draw(st.sampled_from(["replace", "delete", "add_unknown"]))
            if action == "replace":
                parent[path[-1]] = draw(junk)
            elif action == "delete" and isinstance(parent, dict):
                del parent[path[-1]]
            elif action == "add_unknown" and isinstance(parent[path[-1]], dict):
                parent[path[-1]][draw(st.text(min_size=1, max_size=10))] = draw(junk)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed this path
    return data


def _dump(data: Any) -> str:
    out = io.StringIO()
    YAML(typ="safe").dump(data, out)
    return out.getvalue()


def _check(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "platform.yaml"
        path.write_text(text)
        result = run_main("inventory", "validate", "--file", str(path))
    assert "Traceback" not in result.err
    if result.code == 0:
        return
    assert result.code == 2, result.err
    lines = result.err.strip().splitlines()
    assert lines, "an error must say something"
    line_count = max(1, len(text.splitlines()))
    for line in lines:
        if line.startswith("error: ... and "):
            continue
        match = LINE.match(line)
        assert match, line
        assert match["file"] == str(path)
        assert 1 <= int(match["line"]) <= line_count + 1


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(broken_inventories())
def test_any_structural_damage_is_reported_as_lines(data: Any) -> None:
    _check(_dump(data))


@settings(max_examples=80, deadline=None)
@given(st.text(max_size=200))
def test_any_text_is_reported_as_lines(text: str) -> None:
    _check(text)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=len(INVENTORY.read_text())))
def test_a_truncated_inventory_is_reported_as_lines(cut: int) -> None:
    _check(INVENTORY.read_text()[:cut])
