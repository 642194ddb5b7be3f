"""`ops drill run rds-pitr --load CAMPAIGN`: a real Locust master and worker against the real
ingest service while the drill restores, validates and tears down; the drill's report lays
the load's seconds over the run's steps; no Locust process outlives the drill, whatever
ends it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil

from ops.campaign.local_backend import LOCUSTFILE
from ops.util.processes import wait_until
from tests.helpers import run_cli
from tests.integration.conftest import RunningPlatform
from tests.runbook_controls import kill_at_env


def _ingested(platform: RunningPlatform) -> float:
    """Every record the ingest service has answered for, whatever its outcome."""
    text = httpx.get(f"{platform.ingest_url}/metrics/").text
    return sum(
        float(line.split()[-1]) for line in text.splitlines() if line.startswith("ingest_records_total{")
    )


def _locust_processes(platform: RunningPlatform) -> list[psutil.Process]:
    """This module's Locust processes (their environment names its state folder)."""
    found = []
    for process in psutil.process_iter(["cmdline", "environ"]):
        with_locustfile = str(LOCUSTFILE) in " ".join(process.info["cmdline"] or [])
        ours = (process.info["environ"] or {}).get("OPS_STATE_DIR") == str(platform.state_dir)
        if with_locustfile and ours and process.status() != psutil.STATUS_ZOMBIE:
            found.append(process)
    return found


def _after_newest_backup(platform: RunningPlatform) -> None:
    """A drill restores to now, which must be past the newest base backup by a second."""
    backups = list((platform.state_dir / "postgres" / "base-backups").iterdir())
    finished = max(f.stat().st_mtime for backup in backups for f in backup.iterdir())
    ready = datetime.fromtimestamp(finished, UTC) + timedelta(seconds=1)
    wait_until(lambda: datetime.now(UTC) > ready, 10, "the clock past the newest base backup")


def _campaign(tmp_path: Path, duration: str) -> Path:
    """Few users on one worker: the load is real, the test short."""
    path = tmp_path / "drill-load.yaml"
    path.write_text(f"name: drill-load\nusers: 3\nspawn_rate: 3\nduration: {duration}\nworkers: 1\n")
    return path


def _history(platform: RunningPlatform) -> dict[str, dict[str, Any]]:
    result = run_cli("drill", "history", "-o", "json", env=platform.env)
    assert result.code == 0, result.err
    return {entry["drill_id"]: entry for entry in json.loads(result.out)}


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def test_a_drill_under_load_reports_what_users_saw_during_each_step(
    platform: RunningPlatform, tmp_path: Path
) -> None:
    _after_newest_backup(platform)
    before = _ingested(platform)
    # Longer than the drill: stopped at its end.
    result = run_cli(
        "drill", "run", "rds-pitr", "--load", str(_campaign(tmp_path, "5m")), "-o", "json", env=platform.env
    )
    assert result.code == 0, result.err
    drill = json.loads(result.out)
    assert drill["success"] and drill["objectives_met"]
    load = drill["load"]
    assert load["campaign"] == "drill-load" and load["campaign_id"].startswith("drill-load-")
    assert load["requests"] > 0 and load["failures"] == 0 and load["slo_met"] is True
    assert load["stopped_by_drill"] is True
    # Every request Locust counted was answered by the ingest service.
    assert _ingested(platform) - before >= load["requests"]
    assert _locust_processes(platform) == []

    entry = _history(platform)[drill["drill_id"]]
    assert entry["load"]["campaign_id"] == load["campaign_id"] and entry["load"]["slo_met"] is True
    assert entry["report"] == drill["report"]

    report = Path(drill["report"])
    data = json.loads(report.with_suffix(".json").read_text())
    began, ended = _epoch(drill["started_at"]), _epoch(drill["ended_at"])
    points, steps = data["load"]["points"], data["load"]["steps"]
    assert points and all(began <= p["at"] <= ended for p in points)
    assert 0 < sum(p["requests"] for p in points) <= load["requests"]
    assert {s["step"] for s in steps} >= {"check-source", "restore", "wait-ready", "validate", "teardown"}
    assert all(0 <= s["start_s"] <= s["end_s"] <= ended - began for s in steps)
    # The restore ran under load: a second that overlaps it has a latency and an error rate.
    (restore,) = [s for s in steps if s["step"] == "restore"]
    during = [p for p in points if restore["start_s"] < p["second"] and p["second"] - 1 < restore["end_s"]]
    assert any(p["p95_ms"] is not None and p["error_rate"] == 0 for p in during), during
    html = report.read_text()
    for step in steps:
        assert f'data-label="{step["step"]}"' in html
    assert 'data-series="error rate %"' in html and 'data-series="p95 ms"' in html
    assert "stopped at the drill's end" in report.with_suffix(".md").read_text()


def test_a_drill_under_load_stopped_by_sigterm_leaves_no_locust_process(
    platform: RunningPlatform, tmp_path: Path
) -> None:
    _after_newest_backup(platform)
    before = _ingested(platform)
    stopped = run_cli(
        "drill",
        "run",
        "rds-pitr",
        "--load",
        str(_campaign(tmp_path, "5m")),
        env={**platform.env, **kill_at_env("sigterm-after:restore")},  # mid-drill, mid-campaign
    )
    assert stopped.code == 130
    assert stopped.err.splitlines() == ["error: interrupted"]
    assert _ingested(platform) > before  # the load was flowing when the signal came
    assert _locust_processes(platform) == []
    (entry,) = [e for e in _history(platform).values() if e.get("load") and e["status"] == "failed"]
    assert entry["error"] == "interrupted by signal 15"
    assert entry["load"]["requests"] > 0 and entry["load"]["stopped_by_drill"] is True


def test_a_bad_load_is_refused_before_anything_starts(platform: RunningPlatform, tmp_path: Path) -> None:
    history = set(_history(platform))
    loadtests = platform.state_dir / "loadtests"
    runs = set(loadtests.iterdir()) if loadtests.exists() else set()
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nusers: 3\nduration: 5s\nworkerz: 1\n")
    cases = {
        ("--load", "no-such-campaign"): "--load: ",
        ("--load", str(bad)): f"--load: {bad}:4: workerz: ",
        ("--load", "smoke", "--env", "staging"): "--load: drills under load run the campaign on the local",
    }
    for args, start in cases.items():
        result = run_cli("drill", "run", "rds-pitr", *args, env=platform.env)
        assert result.code == 2, (args, result.err)
        (line,) = result.err.strip().splitlines()
        assert line.startswith(f"error: {start}"), line
    assert "no such campaign" in run_cli("drill", "run", "rds-pitr", "--load", "nope", env=platform.env).err
    assert set(_history(platform)) == history  # no drill began
    assert (set(loadtests.iterdir()) if loadtests.exists() else set()) == runs  # no campaign either
    assert _locust_processes(platform) == []
