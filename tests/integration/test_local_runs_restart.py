"""The local platform follows its own runbooks: after a cutover the restored server is the
primary that `ops local up`, `status`, `down` and the next run know (platform.json), the old
one kept running or stopped as the run said; after a drill the primary is unchanged. Each
case ends with `down` and `up`: healthy, on the right server. (Restarts after a rollback and
an abort: tests/integration/test_local_cutover_rollback.py.)"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from tests.helpers import run_cli
from tests.integration.conftest import RunningPlatform
from tests.integration.local_runs import (
    assert_healthy_on,
    assert_restarts_on_primary,
    endpoint,
    pitr,
    primary,
    target_after_newest_backup,
)


def _old_server(platform: RunningPlatform, name: str) -> dict[str, Any]:
    """The status of an old server (`ops local status` exits 0 whatever its state)."""
    status = run_cli("local", "status", "-o", "json", env=platform.env)
    assert status.code == 0, status.out + status.err
    (part,) = [p for p in json.loads(status.out)["parts"] if p["name"] == f"postgres (old: {name})"]
    assert part["required"] is False
    return part  # type: ignore[no-any-return]


@pytest.mark.parametrize("old_instance", ["keep", "stop"])
def test_after_a_cutover_the_platform_restarts_on_the_restored_server(
    platform: RunningPlatform, old_instance: str
) -> None:
    old_root, _ = primary(platform)
    done = pitr(platform, f"old_instance={old_instance}")
    assert done.code == 0, done.err
    new_root, new_port = primary(platform)
    assert new_root.parent == platform.state_dir / "restores" and endpoint(platform)["port"] == new_port
    assert_healthy_on(platform, new_port)
    assert _old_server(platform, old_root.name)["running"] is (old_instance == "keep")
    assert_restarts_on_primary(platform)
    assert primary(platform)[0] == new_root
    old = _old_server(platform, old_root.name)
    assert old["running"] is (old_instance == "keep")  # `up` keeps what the run said
    assert ("kept by" if old_instance == "keep" else "stopped by") in old["detail"]
    second = pitr(platform)  # the next run restores from the new primary
    assert second.code == 0, second.err
    newest_root, newest_port = primary(platform)
    assert newest_root not in (old_root, new_root)
    assert_healthy_on(platform, newest_port)


def test_after_a_drill_the_platform_restarts_on_the_same_primary(platform: RunningPlatform) -> None:
    before = primary(platform)
    target_after_newest_backup(platform, timedelta(0))  # a drill restores to now
    drill = run_cli("drill", "run", "rds-pitr", "-o", "json", env=platform.env)
    assert drill.code == 0, drill.err
    assert json.loads(drill.out)["success"]
    assert primary(platform) == before
    assert_restarts_on_primary(platform)
    assert primary(platform)[0] == before[0]
