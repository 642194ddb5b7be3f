"""The local backend: a Locust master and N worker processes on this machine, loopback
only, bounded in time, every process stopped whatever happens."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil

from ops.campaign.backend import (
    ATTACH_FILE,
    AUTOQUIT_S,
    LOCUST_REPORT,
    STOP_TIMEOUT_S,
    FinalStats,
    LiveStats,
    read_live,
)
from ops.campaign.cost import CampaignCost, nothing_billed
from ops.campaign.spec import Campaign
from ops.errors import OpsError
from ops.util.ports import free_port

LOCUSTFILE = Path(__file__).resolve().parent.parent.parent / "loadtest" / "locustfile.py"
GRACE_S = 90.0  # start-up and shut-down on top of the campaign's duration
POLL_S = 1.0


def locust_environment(campaign: Campaign, folder: Path, samples: bool) -> dict[str, str]:
    """What the locustfile reads (see its docstring)."""
    env = {
        "OPS_LOADTEST_PLAN": campaign.plan().to_json(),
        "OPS_LOADTEST_SEED": str(campaign.seed),
        "OPS_LOADTEST_CLAIM_SHARE": str(campaign.claim_share),
        "OPS_LOADTEST_WAIT_S": str(campaign.think_time or 0),
        "OPS_LOADTEST_RESULTS_DIR": str(folder),
        "PYTHONPATH": str(LOCUSTFILE.parent.parent),
    }
    if samples:
        env["OPS_LOADTEST_SAMPLES_DIR"] = str(folder)
    return env


class LocalBackend:
    name = "local"

    def __init__(self, campaign: Campaign, target_url: str, folder: Path, samples: bool = False) -> None:
        if not target_url.startswith(("http://127.", "http://localhost")):
            raise OpsError(f"the local backend only loads loopback targets, not {target_url}")
        self.campaign = campaign
        self.target_url = target_url
        self.folder = folder
        self.env = {**os.environ, **locust_environment(campaign, folder, samples)}
        self.port = free_port()
        self.web = f"http://127.0.0.1:{free_port()}"
        self.master: psutil.Process | None = None
        self.workers: list[psutil.Process] = []
        self.started_at = time.monotonic()
        self.timeout = campaign.total_duration + GRACE_S
        self.attached = False

    @classmethod
    def reattach(cls, campaign: Campaign, folder: Path) -> LocalBackend:
        """The processes of a campaign whose `ops loadtest run` is gone (killed, lost terminal)."""
        saved = json.loads((folder / ATTACH_FILE).read_text())
        backend = cls(campaign, saved["target_url"], folder)
        backend.web = saved["web"]
        backend.attached = True
        backend.master = _process(saved["master"])
        backend.workers = [w for w in map(_process, saved["workers"]) if w is not None]
        if backend.master is None:
            raise OpsError(
                f"campaign {folder.name} has ended: its master is gone; see {folder / 'results.json'}"
            )
        return backend

    def _locust(self) -> list[str]:
        return [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE)]

    def start(self) -> None:
        if self.attached:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        web_port = self.web.rsplit(":", 1)[1]
        command = [
            *self._locust(),
            "--master",
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            str(self.port),
            "--host",
            self.target_url,
            # The web UI stays on loopback: live statistics, abort rules, attach, `--ui`;
            # --autostart runs the test at once without turning it off (--headless would).
            "--autostart",
            "--autoquit",
            str(AUTOQUIT_S),
            "--web-host",
            "127.0.0.1",
            "--web-port",
            web_port,
            "--expect-workers",
            str(self.campaign.workers),
            "--expect-workers-max-wait",
            "60",
            "--stop-timeout",
            str(STOP_TIMEOUT_S),
            "--json",
            "--exit-code-on-error",
            "0",
            "--csv",
            str(self.folder / "locust"),
            "--csv-full-history",
            # Locust's own report beside ours (written when the run ends; the locustfile
            # writes it when SIGTERM cuts the run short).
            "--html",
            str(self.folder / LOCUST_REPORT),
        ]
        with open(self.folder / "master.json", "wb") as out, open(self.folder / "master.log", "wb") as log:
            master = subprocess.Popen(command, stdout=out, stderr=log, env=self.env, start_new_session=True)
        self.master = psutil.Process(master.pid)
        self.started_at = time.monotonic()
        self.scale(self.campaign.workers)

    def scale(self, workers: int) -> None:
        """Start workers up to `workers` (the master rebalances users onto new ones)."""
        while len(self.workers) < workers:
            index = len(self.workers)
            command = [
                *self._locust(),
                "--worker",
                "--master-host",
                "127.0.0.1",
                "--master-port",
                str(self.port),
            ]
            with open(self.folder / f"worker-{index}.log", "wb") as log:
                worker = subprocess.Popen(
                    command, stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
                )
            self.workers.append(psutil.Process(worker.pid))
        self._save()

    def _save(self) -> None:
        assert self.master is not None
        saved = {
            "backend": "local",
            "target_url": self.target_url,
            "web": self.web,
            "master": _identity(self.master),
            "workers": [_identity(w) for w in self.workers],
        }
        (self.folder / ATTACH_FILE).write_text(json.dumps(saved, indent=2) + "\n")

    def _master_running(self) -> bool:
        return self.master is not None and _alive(self.master)

    def stream(self) -> Iterator[LiveStats]:
        deadline = self.started_at + self.timeout
        dropped = 0
        while self._master_running() and time.monotonic() < deadline:
            time.sleep(POLL_S)
            live = read_live(self.web, time.monotonic() - self.started_at, dropped)
            if live is not None:
                dropped = live.dropped
                yield live

    def stop(self) -> None:
        """Stop the load now; the master still writes its final statistics."""
        with contextlib.suppress(httpx.HTTPError):
            httpx.post(f"{self.web}/stop", timeout=5)
        if self._master_running():
            assert self.master is not None
            self.master.terminate()  # a stopped run would wait for its end; SIGTERM quits now

    def finish(self) -> FinalStats:
        assert self.master is not None
        if not _wait_gone(self.master, max(self.started_at + self.timeout - time.monotonic(), 1.0)):
            raise OpsError(f"the Locust master did not finish; see {self.folder / 'master.log'}")
        _stop_workers(self.workers)
        text = (self.folder / "master.json").read_text().strip()
        if not text:
            log = self.folder / "master.log"
            raise OpsError(f"the Locust master reported nothing (did every worker connect?); see {log}")
        history = self.folder / "locust_stats_history.csv"
        arrivals = self.folder / "arrivals.json"
        report = self.folder / LOCUST_REPORT
        written = report.exists() and report.stat().st_size > 0
        return FinalStats(
            stats=json.loads(text),
            history_csv=history.read_text() if history.exists() else "",
            arrivals=json.loads(arrivals.read_text()) if arrivals.exists() else {},
            locust_report=LOCUST_REPORT if written else "",
            locust_report_absent="" if written else "the Locust master did not write it; see master.log",
        )

    def cleanup(self) -> None:
        """Whatever happened: no process of this campaign is left."""
        for process in [p for p in (self.master, *self.workers) if p is not None]:
            if _alive(process):
                with contextlib.suppress(psutil.Error):
                    process.kill()
                _wait_gone(process, 10)

    def cost(self) -> CampaignCost:
        return nothing_billed("Locust ran as processes on this machine")


def _identity(process: psutil.Process) -> dict[str, float]:
    return {"pid": process.pid, "created": process.create_time()}


def _process(identity: dict[str, float]) -> psutil.Process | None:
    """The process, if it still runs and is the same one (a PID can be reused)."""
    try:
        process = psutil.Process(int(identity["pid"]))
    except psutil.Error:
        return None
    return process if process.create_time() == identity["created"] and _alive(process) else None


def _wait_gone(process: psutil.Process, timeout: float) -> bool:
    """Wait for a process to end: reaped if it is our child, or a zombie left to PID 1."""
    deadline = time.monotonic() + timeout
    while _alive(process):
        if time.monotonic() >= deadline:
            return False
        with contextlib.suppress(psutil.Error):
            process.wait(timeout=0.2)
    return True


def _alive(process: psutil.Process) -> bool:
    try:
        return bool(process.is_running() and process.status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def _stop_workers(workers: list[psutil.Process]) -> None:
    """A worker quits when its master says so; one whose master was stopped early does not
    hear it: SIGTERM (a graceful quit that still writes its samples), then SIGKILL. All the
    workers at once, so that N workers cost one grace period, not N."""
    for stop, grace in ((None, 1.0), (psutil.Process.terminate, 10.0), (psutil.Process.kill, 5.0)):
        alive = [w for w in workers if _alive(w)]
        if not alive:
            return
        for worker in alive:
            if stop is not None:
                with contextlib.suppress(psutil.NoSuchProcess):
                    stop(worker)
        deadline = time.monotonic() + grace
        for worker in alive:
            _wait_gone(worker, max(deadline - time.monotonic(), 0.01))
