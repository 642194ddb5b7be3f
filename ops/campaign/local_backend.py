"""The local backend: a Locust master and N worker processes on this machine, loopback
only, bounded in time, every process stopped whatever happens."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ops.campaign.spec import Campaign
from ops.errors import OpsError
from ops.local.processes import free_port

LOCUSTFILE = Path(__file__).resolve().parent.parent.parent / "loadtest" / "locustfile.py"
GRACE_S = 90.0  # start-up and shut-down on top of the campaign's duration


@dataclass
class LocalResult:
    stats: list[dict[str, Any]]
    folder: Path


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
    base = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE)]
    master_cmd = [
        *base, "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
        "--headless", "--host", target_url, "-u", str(campaign.users), "-r", str(campaign.spawn_rate),
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
            try:
                master.wait(timeout=campaign.duration + GRACE_S)
            except subprocess.TimeoutExpired:
                raise OpsError(f"the Locust master did not finish; see {folder / 'master.log'}") from None
        for worker in processes[1:]:  # they exit when the master quits; wait for their samples
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    text = (folder / "master.json").read_text().strip()
    if not text:
        raise OpsError(f"the Locust master reported nothing; see {folder / 'master.log'}")
    return LocalResult(json.loads(text), folder)
