"""Failures of the environment the toolkit runs in (issue 15): a state folder that is a
file or sits under one, a region no AWS partition has, a flag or an argument wrong. Each is
one line naming the path or the value and the fix, exit 2, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import INVENTORY, run_main

STATE_COMMANDS = [
    ("local", "status"),
    ("local", "up", "--no-kafka"),
    ("drill", "history"),
    ("runbook", "run", "rds-pitr", "--env", "local", "-p", "target_time=2026-12-06T00:00:00+00:00"),
    ("loadtest", "run", "smoke", "--env", "local"),
]


@pytest.mark.parametrize("command", STATE_COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_a_state_folder_that_is_a_file_is_one_line_and_nothing_is_written(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    state = tmp_path / "state"
    state.write_text("not a folder\n")
    result = run_main("--inventory", str(INVENTORY), *command, env={"OPS_STATE_DIR": str(state)})
    assert result.code == 2, result.err
    assert result.err.strip().splitlines() == [
        f"error: state folder {state} is a file; pass --state-dir (or OPS_STATE_DIR) with a folder you can "
        "write to"
    ]
    assert state.read_text() == "not a folder\n" and sorted(tmp_path.iterdir()) == [state]


def test_a_state_folder_under_a_file_names_the_file(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    state = blocker / "state"
    result = run_main("--state-dir", str(state), "local", "status")
    assert result.code == 2, result.err
    [line] = result.err.strip().splitlines()
    assert line.startswith(f"error: state folder {state} cannot be made: {blocker} is a file; ")


@pytest.mark.parametrize(
    ("region", "says"),
    [
        ("us-east-11", "did you mean us-east-1?"),
        ("bad region", "e.g. us-east-1"),
        ("nowhere-1", "e.g. us-east-1"),
    ],
)
def test_a_region_no_partition_has_is_refused_before_any_call(region: str, says: str) -> None:
    result = run_main(
        "--region", region, "--inventory", str(INVENTORY), "observe", "plan", "--env", "staging"
    )
    assert result.code == 2, result.err
    [line] = result.err.strip().splitlines()
    assert f"--region: {region!r} is not an AWS region botocore knows" in line and says in line
    assert "Traceback" not in result.err


@pytest.mark.parametrize(
    ("edit", "field", "says"),
    [
        (("  region: us-east-1\n", "  region: us-east-11\n"), "base.region", "did you mean us-east-1?"),
        (
            ("      region: us-west-2\n", "      region: mars-west-2\n"),
            "base.components.events_dr.region",
            "not an AWS region",
        ),
        (
            ("      region: us-west-2\n", "      region: cn-north-1\n"),
            "base.components.events_dr.region",
            "partition aws-cn",
        ),
    ],
)
def test_an_inventory_region_is_one_botocore_knows_in_the_environments_partition(
    tmp_path: Path, edit: tuple[str, str], field: str, says: str
) -> None:
    text = INVENTORY.read_text()
    assert edit[0] in text
    file = tmp_path / "platform.yaml"
    file.write_text(text.replace(*edit, 1))
    result = run_main("inventory", "validate", "--file", str(file))
    assert result.code == 2, result.err
    lines = result.err.strip().splitlines()
    assert any(f": {field}: " in line and says in line for line in lines), lines


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("inventory", "validate", "--bogus"), "No such option: --bogus"),
        (("loadtest", "run"), "Missing argument 'campaign'"),
        (("--log-format", "xml", "inventory", "validate"), "--log-format: 'xml': use text or json"),
        (("loadtest", "run", "smoke", "--backend", "mainframe"), "--backend"),
    ],
)
def test_a_wrong_flag_or_a_missing_argument_is_one_line_with_where_to_look(
    args: tuple[str, ...], says: str
) -> None:
    result = run_main(*args)
    assert result.code == 2, result.err
    [line] = result.err.strip().splitlines()
    assert line.startswith("error: ") and says in line and "--help`)" in line, line
