"""The README's exit-code table and the code agree."""

from __future__ import annotations

import re

from ops.errors import ExitCode
from tests.helpers import REPO, run_main


def test_the_readme_table_lists_every_exit_code() -> None:
    readme = (REPO / "README.md").read_text()
    table = dict(re.findall(r"^\| `(\d+)` \| (.+?) \|", readme, flags=re.M))
    assert {int(code) for code in table} == {int(code) for code in ExitCode}


def test_usage_errors_exit_2() -> None:
    assert run_main("inventory", "show", "--no-such-flag").code == 2
    assert run_main("--log-format", "xml", "inventory", "validate").code == 2


def test_an_unknown_environment_exits_2_with_one_line() -> None:
    result = run_main("inventory", "show", "--env", "qa")
    assert result.code == 2
    assert len(result.err.strip().splitlines()) == 1
