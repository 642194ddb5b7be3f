"""Numbers that mean nothing are refused at validation, not planned (issue 15): non-finite
values (`.inf`, `1e400`, `.nan`), durations past a year, counts far past what AWS or Locust
allow. Each is one line naming the file, the line and the field, exit 2, through the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import INVENTORY, run_main

INVENTORY_CASES = [
    # (what the shipped inventory's line becomes, the field named, what the line says)
    (
        (
            "      storage_gib: 1000\n",
            "      storage_gib: 1000\n      alarms: {offline-partitions: {threshold: .inf}}\n",
        ),
        "base.components.events.alarms.offline-partitions.threshold",
        "finite number",
    ),
    (
        (
            "      storage_gib: 1000\n",
            "      storage_gib: 1000\n      alarms: {offline-partitions: {threshold: 1e400}}\n",
        ),
        "base.components.events.alarms.offline-partitions.threshold",
        "finite number",
    ),
    (
        ("warehouse: {rpo: 5m, rto: 30m}", "warehouse: {rpo: 5m, rto: 99999999999999d}"),
        "base.objectives.warehouse.rto",
        "366 days",
    ),
    (
        ("events: {rpo: 1m, rto: 15m}", "events: {rpo: 1e400, rto: 15m}"),
        "base.objectives.events.rpo",
        "not a finite duration",
    ),
    (
        ("events: {rpo: 1m, rto: 15m}", "events: {rpo: .nan, rto: 15m}"),
        "base.objectives.events.rpo",
        "not a finite duration",
    ),
    (
        ("      broker_count: 3\n", "      broker_count: 100000000\n"),
        "base.components.events.broker_count",
        "1000",
    ),
]


@pytest.mark.parametrize(("edit", "field", "says"), INVENTORY_CASES, ids=lambda v: str(v)[:40])
def test_a_meaningless_number_in_the_inventory_is_one_line(
    tmp_path: Path, edit: tuple[str, str], field: str, says: str
) -> None:
    text = INVENTORY.read_text()
    assert edit[0] in text, edit[0]
    file = tmp_path / "platform.yaml"
    file.write_text(text.replace(edit[0], edit[1], 1))
    result = run_main("inventory", "validate", "--file", str(file))
    assert result.code == 2, result.err
    [line] = result.err.strip().splitlines()
    assert line.startswith(f"error: {file}:") and f": {field}: " in line and says in line, line


CAMPAIGN = "name: bad\nusers: 5\nspawn_rate: 2\nduration: 10s\n"
CAMPAIGN_CASES = [
    (("spawn_rate: 2", "spawn_rate: .inf"), 3, "spawn_rate", "finite number"),
    (("duration: 10s", "duration: 1e400"), 4, "duration", "not a finite duration"),
    (("users: 5", "users: 100000000"), 2, "users", "100000"),
    (("spawn_rate: 2", "spawn_rate: 1000000000"), 3, "spawn_rate", "100000"),
]


@pytest.mark.parametrize(("edit", "line_number", "field", "says"), CAMPAIGN_CASES, ids=lambda v: str(v)[:30])
def test_a_meaningless_number_in_a_campaign_is_one_line(
    tmp_path: Path, edit: tuple[str, str], line_number: int, field: str, says: str
) -> None:
    file = tmp_path / "campaign.yaml"
    file.write_text(CAMPAIGN.replace(*edit))
    result = run_main("--inventory", str(INVENTORY), "loadtest", "run", str(file), "--env", "local")
    assert result.code == 2, result.err
    [line] = result.err.strip().splitlines()
    assert line.startswith(f"error: {file}:{line_number}: {field}: ") and says in line, line
