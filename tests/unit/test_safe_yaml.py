"""Every YAML the toolkit reads is parsed within limits (ops/util/safe_yaml.py): the hostile
files of issue 15 (an alias bomb, deep nesting, a huge file, a control character, an alias
loop) end in exit 2 and one line naming the file and the line, through the real CLI, for
the inventory, a campaign and a collector configuration. The subprocess timeouts bound a
hang: a hang fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops.util.safe_yaml import MAX_BYTES, MAX_DEPTH, MAX_NODES, YamlRefused, load_text
from tests.helpers import INVENTORY, Result, run_cli, run_main

LAUGHS = "".join(
    f"{name}: &{name} [{', '.join([f'*{previous}'] * 9) if previous else ', '.join(['lol'] * 9)}]\n"
    for previous, name in zip([None, "a", "b", "c", "d", "e", "f", "g", "h"], "abcdefghi", strict=True)
)
DEEP_FLOW = "[" * 3000 + "]" * 3000
DEEP_BLOCK = "".join("  " * level + f"k{level}:\n" for level in range(200)) + "  " * 200 + "end: 1\n"


def _hostile(kind: str) -> str:
    """A file of `kind` that parses as YAML only without the limits."""
    return {
        "laughs": LAUGHS,
        "deep-flow": f"version: 1\nplatform: {DEEP_FLOW}\n",
        "deep-block": DEEP_BLOCK,
        "control": "version: 1\nplatform: data\x01plat\n",
        "loop": "version: 1\nplatform: &p [1, *p]\n",
        "huge": "version: 1\nplatform: " + "x" * (MAX_BYTES + 10) + "\n",
    }[kind]


EXPECTED_LINE = {"laughs": 5, "deep-flow": 2, "deep-block": 64, "control": 2, "loop": 2, "huge": 1}
SAYS = {
    "laughs": f"more than {MAX_NODES:,} values once its aliases are expanded",
    "deep-flow": f"nested more than {MAX_DEPTH} levels deep",
    "deep-block": f"nested more than {MAX_DEPTH} levels deep",
    "control": "control character U+0001",
    "loop": "an alias inside the node it names makes a loop",
    "huge": "MiB a YAML file may have",
}
KINDS = list(SAYS)


def _one_line(result: Result, file: Path, kind: str) -> None:
    assert result.code == 2, result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert "Traceback" not in result.err
    assert lines[0].startswith(f"error: {file}:{EXPECTED_LINE[kind]}: "), lines[0]
    assert SAYS[kind] in lines[0]


@pytest.mark.parametrize("kind", KINDS)
def test_a_hostile_inventory_is_one_line_and_exit_2(tmp_path: Path, kind: str) -> None:
    file = tmp_path / "platform.yaml"
    file.write_text(_hostile(kind))
    _one_line(run_main("inventory", "validate", "--file", str(file)), file, kind)


@pytest.mark.parametrize("kind", KINDS)
def test_a_hostile_campaign_is_one_line_and_exit_2(tmp_path: Path, kind: str) -> None:
    file = tmp_path / "campaign.yaml"
    file.write_text(_hostile(kind))
    result = run_main("--inventory", str(INVENTORY), "loadtest", "run", str(file), "--env", "local")
    _one_line(result, file, kind)


@pytest.mark.parametrize("kind", KINDS)
def test_a_hostile_collector_configuration_is_one_line_and_exit_2(tmp_path: Path, kind: str) -> None:
    file = tmp_path / "collector.yaml"
    file.write_text(_hostile(kind))
    result = run_main("adot", "validate", str(file))
    assert result.code == 2, result.err
    [line] = result.err.strip().splitlines()
    assert line.startswith(f"error: {file}:{EXPECTED_LINE[kind]}: (yaml): "), line
    assert SAYS[kind] in line


def test_the_alias_bomb_that_hung_the_cli_is_refused_by_a_separate_process(tmp_path: Path) -> None:
    """As a user runs it: before the limits, this file was killed after 90-120 s."""
    file = tmp_path / "platform.yaml"
    file.write_text(LAUGHS)
    _one_line(run_cli("inventory", "validate", "--file", str(file), timeout=60), file, "laughs")


def test_aliases_and_merge_keys_within_the_limits_still_work() -> None:
    data = load_text("base: &base {a: 1, b: [1, 2]}\nprod:\n  <<: *base\n  b: [3]\nagain: *base\n")
    assert dict(data["prod"]) == {"a": 1, "b": [3]} and data["again"]["b"] == [1, 2]


def test_depth_up_to_the_limit_is_read() -> None:
    depth = MAX_DEPTH - 1
    data = load_text("[" * depth + "]" * depth)
    for _ in range(depth - 1):
        data = data[0]
    assert data == []
    with pytest.raises(YamlRefused):
        load_text("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))
