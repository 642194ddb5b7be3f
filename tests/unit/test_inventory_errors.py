"""Every inventory error is one line naming file, line and field, with exit code 2."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ops.inventory import load_inventory
from ops.inventory.loader import InventoryInvalid
from tests.helpers import INVENTORY, run_main

LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): (?P<path>\S+): (?P<message>.+)$")


def _problems(path: Path) -> list[re.Match[str]]:
    with pytest.raises(InventoryInvalid) as caught:
        load_inventory(path)
    lines = str(caught.value).splitlines()
    matches = [LINE.match(line) for line in lines]
    assert all(matches), lines
    return [m for m in matches if m]


def _line_of(text: str, needle: str, occurrence: int = 1) -> int:
    lines = text.splitlines()
    hits = [i + 1 for i, line in enumerate(lines) if needle in line]
    return hits[occurrence - 1]


def _replace(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def test_a_typo_in_an_overlay_points_at_the_overlay(write_inventory) -> None:  # type: ignore[no-untyped-def]
    text = _replace(
        INVENTORY.read_text(),
        "      warehouse: {instance_class: db.r6g.2xlarge,",
        "      warehouse: {instance_clas: db.r6g.2xlarge,",
    )
    (problem,) = _problems(write_inventory(text))
    assert problem["path"] == "environments.prod.components.warehouse.instance_clas"
    assert int(problem["line"]) == _line_of(text, "instance_clas: db.r6g.2xlarge")
    assert "did you mean 'instance_class'" in problem["message"]


def test_a_typo_in_the_base_is_reported_once_not_per_environment(write_inventory) -> None:  # type: ignore[no-untyped-def]
    text = _replace(
        INVENTORY.read_text(), "      multi_az: true\n", "      multi_az: true\n      mutli_az: true\n"
    )
    (problem,) = _problems(write_inventory(text))
    assert problem["path"] == "base.components.warehouse.mutli_az"
    assert int(problem["line"]) == _line_of(text, "mutli_az")


def test_an_unknown_kind_points_at_the_kind_line(write_inventory) -> None:  # type: ignore[no-untyped-def]
    text = _replace(INVENTORY.read_text(), "kind: emr\n", "kind: emrr\n")
    (problem,) = _problems(write_inventory(text))
    assert problem["path"] == "base.components.spark.kind"
    assert int(problem["line"]) == _line_of(text, "kind: emrr")
    assert "'emr'" in problem["message"]


def test_a_dangling_reference_is_named(write_inventory) -> None:  # type: ignore[no-untyped-def]
    text = _replace(INVENTORY.read_text(), "topic: raw_insurance_claims}", "topic: raw_insurance_claimz}")
    (problem,) = _problems(write_inventory(text))
    assert problem["path"] == "base.components.ingest_insurance.produces_to.topic"
    assert "raw_insurance_claimz" in problem["message"]


def test_an_objective_for_a_stateless_component_is_refused(write_inventory) -> None:  # type: ignore[no-untyped-def]
    text = _replace(INVENTORY.read_text(), "    lake: {rpo: 15m, rto: 4h}", "    spark: {rpo: 15m, rto: 4h}")
    (problem,) = _problems(write_inventory(text))
    assert problem["path"] == "base.objectives.spark"
    assert "holds no data" in problem["message"]


def test_an_unknown_component_in_an_overlay_is_refused(write_inventory) -> None:  # type: ignore[no-untyped-def]
    text = _replace(
        INVENTORY.read_text(), "      documents: {instance_count: 3}", "      documentz: {instance_count: 3}"
    )
    problems = _problems(write_inventory(text))
    assert problems[0]["path"].startswith("environments.prod.components.documentz")


def test_yaml_syntax_errors_name_the_line(write_inventory) -> None:  # type: ignore[no-untyped-def]
    path = write_inventory("version: 1\nplatform: x\nbase: [1\n")
    (problem,) = [LINE.match(line) for line in _raw_lines(path)]
    assert problem is not None and problem["path"] == "yaml"


def test_duplicate_keys_are_errors(write_inventory) -> None:  # type: ignore[no-untyped-def]
    text = _replace(INVENTORY.read_text(), "platform: dataplat\n", "platform: dataplat\nplatform: other\n")
    lines = _raw_lines(write_inventory(text))
    assert len(lines) == 1 and "duplicate" in lines[0].lower()


def _raw_lines(path: Path) -> list[str]:
    with pytest.raises(Exception) as caught:
        load_inventory(path)
    return str(caught.value).splitlines()


def test_the_cli_exits_2_with_one_line_per_problem_and_no_traceback(write_inventory) -> None:  # type: ignore[no-untyped-def]
    text = _replace(INVENTORY.read_text(), "kind: emr\n", "kind: emrr\n")
    text = _replace(text, "    lake: {rpo: 15m, rto: 4h}", "    lake: {rpo: 15m, rto: -4h}")
    result = run_main("inventory", "validate", "--file", str(write_inventory(text)))
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 2
    assert all(line.startswith("error: ") and LINE.match(line[7:]) for line in lines)
    assert "Traceback" not in result.err


def test_the_cli_validates_the_shipped_inventory() -> None:
    result = run_main("inventory", "validate", "--file", str(INVENTORY), "--output", "json")
    assert result.code == 0, result.err
    assert '"valid": true' in result.out
