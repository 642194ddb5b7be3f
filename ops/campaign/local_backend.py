"""The local backend: a Locust master and N worker processes on this machine, loopback
only, bounded in time, every process stopped whatever happens."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ops.campaign.spec import AbortRule, Campaign
from ops.errors import OpsError
from ops.local.processes import free_port

LOCUSTFILE = Path(__file__).resolve().parent.parent.parent / "loadtest" / "locustfile.py"
GRACE_S = 90.0  # start-up and shut-down on top of the campaign's duration


@dataclass
class LocalResult:
    stats: list[dict[str, Any]]
    folder: Path
    aborted: str = ""  # the abort rule that stopped the run, if one did


def run_local(campaign: Campaign, target_url: str, folder: Path, samples: bool = False) -> LocalResult:
    if not target_url.startswith(("http://127.", "http://localhost")):
        raise OpsError(f"the local backend only loads loopback targets, not {target_url}")
    folder.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "OPS_LOADTEST_SEED": str(campaign.seed),
        "OPS_LOADTEST_CLAIM_SHARE": str(campaign.claim_share),
        "OPS_LOADTEST_WAIT_S": str(campaign.think_time or 0),
        "PYTHONPATH": str(LOCUSTFILE.parent.parent),
    }
    if samples:
        env["OPS_LOADTEST_SAMPLES_DIR"] = str(folder)
    port = free_port()
    web_port = free_port()
    base = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE)]
    # With abort rules the master keeps its web API (on loopback) to be watched and stopped.
    mode = (
        ["--autostart", "--autoquit", "1", "--web-host", "127.0.0.1", "--web-port", str(web_port)]
        if campaign.abort
        else ["--headless"]
    )
    master_cmd = [
        *base, "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
        *mode, "--host", target_url, "-u", str(campaign.users), "-r", str(campaign.spawn_rate),
        "-t", f"{int(campaign.duration)}s", "--expect-workers", str(campaign.workers),
        "--expect-workers-max-wait", "60", "--stop-timeout", "5", "--json", "--exit-code-on-error", "0",
    ]  # fmt: skip
    worker_cmd = [*base, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
    processes: list[subprocess.Popen[bytes]] = []
    try:
        with open(folder / "master.json", "wb") as out, open(folder / "master.log", "wb") as log:
            master = subprocess.Popen(master_cmd, stdout=out, stderr=log, env=env, start_new_session=True)
            processes.append(master)
            for index in range(campaign.workers):
                with open(folder / f"worker-{index}.log", "wb") as worker_log:
                    processes.append(
                        subprocess.Popen(
                            worker_cmd,
                            stdout=worker_log,
                            stderr=subprocess.STDOUT,
                            env=env,
                            start_new_session=True,
                        )
                    )
            aborted = ""
            if campaign.abort:
                aborted = watch(
                    master, f"http://127.0.0.1:{web_port}", campaign.abort, campaign.duration + GRACE_S
                )
            try:
                master.wait(timeout=campaign.duration + GRACE_S)
            except subprocess.TimeoutExpired:
                raise OpsError(f"the Locust master did not finish; see {folder / 'master.log'}") from None
        for worker in processes[1:]:
            _stop_worker(worker)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    text = (folder / "master.json").read_text().strip()
    if not text:
        master_log = folder / "master.log"
        raise OpsError(f"the Locust master reported nothing (did every worker connect?); see {master_log}")
    return LocalResult(json.loads(text), folder, aborted)


def _stop_worker(worker: subprocess.Popen[bytes]) -> None:
    """A worker quits when its master says so; a master that was stopped early does not
    say it: SIGTERM (a graceful quit that still writes its samples), then SIGKILL."""
    for stop, wait in ((None, 2.0), (worker.terminate, 10.0), (worker.kill, 5.0)):
        if stop is not None:
            stop()
        try:
            worker.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def watch(master: subprocess.Popen[bytes], web: str, rules: list[AbortRule], timeout: float) -> str:
    """Poll the master's live stats every second until it ends; stop the run when a rule
    is breached for its whole window. Returns the rule that stopped it, or ''."""
    breached_since: dict[int, float] = {}
    deadline = time.monotonic() + timeout
    while master.poll() is None and time.monotonic() < deadline:
        time.sleep(1.0)
        try:
            report = httpx.get(f"{web}/stats/requests", timeout=2).json()
        except (httpx.HTTPError, ValueError):
            continue  # starting or finishing
        if report.get("state") not in ("running", "spawning"):
            continue
        now = time.monotonic()
        for index, rule in enumerate(rules):
            value = _live(report, rule.metric)
            if value is None or value <= rule.above:
                breached_since.pop(index, None)
                continue
            since = breached_since.setdefault(index, now)
            if now - since >= rule.window:
                with contextlib.suppress(httpx.HTTPError):
                    httpx.post(f"{web}/stop", timeout=5)
                # A stopped run waits for its run time; SIGTERM makes Locust quit now,
                # with its final statistics.
                master.terminate()
                return f"{rule.metric} {value:g} above {rule.above:g} for {rule.window:g} s"
    return ""


def _live(report: dict[str, Any], metric: str) -> float | None:
    if metric == "error_rate":
        return float(report.get("fail_ratio") or 0.0)
    value = (report.get("current_response_time_percentiles") or {}).get("response_time_percentile_0.95")
    return float(value) if value is not None else None
