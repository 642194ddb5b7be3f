"""`ops drill run --load CAMPAIGN`: a load-test campaign for the length of a drill. The drill
service (ops/runbook) may not import the campaign engine, so the command, the composition
root, builds the load and lends it: a `DrillLoad` whose campaign the campaign engine runs,
stops and cleans up (`run_campaign` in a thread; the backend's own `stop` and `cleanup`)."""

from __future__ import annotations

import csv
import io
import threading
import time
from pathlib import Path

import psutil

from ops.campaign.backend import LiveStats
from ops.campaign.engine import CampaignOutcome, run_campaign
from ops.campaign.local_backend import LocalBackend
from ops.campaign.service import campaign_slo
from ops.campaign.spec import Campaign, load_campaign
from ops.errors import BadInput, OpsError
from ops.inventory.environment import Environment
from ops.runbook.drill_load import LoadOutcome, LoadPoint
from ops.telemetry.metrics import record_campaign
from ops.util.ids import new_run_id

# Until the load reaches the service: the master waits up to 60 s for its workers.
START_TIMEOUT_S = 90.0
# For the campaign to finish once stopped: the master's final report, then its workers
# (terminated, then killed: about 16 s at worst, see local_backend._stop_workers).
STOP_TIMEOUT_S = 60.0
# Locust's workers report to the master every 3 s (locust.runners.WORKER_REPORT_INTERVAL):
# a per-second error rate from the master's totals is over this trailing window.
REPORT_WINDOW_S = 3.0


def check_load(name: str, environment: Environment) -> Campaign:
    """The campaign (with an SLO to judge it by), or one line per problem (exit 2), before
    anything starts. The local backend only: a Fargate launch has its own cost estimate,
    `--max-cost` and confirmation, which belong to `ops loadtest run`."""
    if environment.provider != "local":
        raise BadInput(
            f"--load: drills under load run the campaign on the local platform only; {environment.name} "
            f"is on AWS: run `ops loadtest run {name} --backend fargate --env {environment.name}` alongside"
        )
    try:
        spec = load_campaign(name)
    except BadInput as error:
        raise BadInput("\n".join(f"--load: {line}" for line in str(error).splitlines())) from None
    campaign_slo(spec, environment)
    return spec


class CampaignLoad:
    """A campaign on the local backend (Locust master and workers, loopback only) that runs
    while a drill does: started before its first step, stopped at its end."""

    def __init__(self, spec: Campaign, environment: Environment, target_url: str, state_root: Path) -> None:
        self.spec = spec
        self.environment = environment
        self.slo = campaign_slo(spec, environment)
        self.campaign = spec.name
        self.campaign_id = new_run_id(spec.name)
        self.folder = state_root / "loadtests" / self.campaign_id
        self.backend = LocalBackend(spec, target_url, self.folder)
        self._flowing = threading.Event()
        self._flowed_at = 0.0
        self._outcome: CampaignOutcome | None = None
        self._error: BaseException | None = None
        # Not a daemon: should this process be told to quit while the campaign still
        # finishes, Python waits for the engine's own cleanup before it exits.
        self._thread = threading.Thread(target=self._run, name=f"campaign {self.campaign_id}")

    def _run(self) -> None:
        try:
            self._outcome = run_campaign(
                self.spec, self.backend, self.campaign_id, self.folder, self.slo, on_live=self._live
            )
        except BaseException as error:  # kept for `stop`, which says it
            self._error = error

    def _live(self, live: LiveStats) -> None:
        if live.requests > 0 and not self._flowing.is_set():
            self._flowed_at = time.monotonic()
            self._flowing.set()

    def start(self) -> None:
        """Start the campaign; return once its requests reach the service."""
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._flowing.wait(0.2):
            if not self._thread.is_alive():
                cause = f": {self._error}" if self._error else ""
                raise OpsError(f"load {self.campaign_id} ended before its requests flowed{cause}")
            if time.monotonic() > deadline:
                raise OpsError(
                    f"load {self.campaign_id}: no request within {START_TIMEOUT_S:.0f} s; "
                    f"see {self.folder / 'master.log'}"
                )

    def stop(self) -> LoadOutcome:
        """Stop the campaign if it still runs (the backend's own stop: the master's final
        report, then its workers), wait for the engine's verdict, and read its seconds back.
        Whatever happens here, the engine's cleanup has left no process once this returns."""
        # Cut short: its master still runs, short of the campaign's planned length.
        cut = time.monotonic() - self._flowed_at < self.spec.total_duration
        stopped_by_drill = self._flowing.is_set() and cut and self._master_running()
        try:
            if self._thread.is_alive():
                self.backend.stop()
            self._thread.join(STOP_TIMEOUT_S)
        finally:
            if self._thread.is_alive():  # it hangs, or this process is being interrupted
                self.backend.cleanup()
        if self._thread.is_alive():
            raise OpsError(f"load {self.campaign_id} did not finish within {STOP_TIMEOUT_S:.0f} s; stopped")
        if self._outcome is None:
            raise OpsError(f"load {self.campaign_id}: {self._error or 'no verdict'}")
        data = self._outcome.data
        record_campaign(self.spec.name, self.environment.name, self.backend.name, data)
        history = self.folder / "locust_stats_history.csv"
        return LoadOutcome(
            campaign=self.campaign,
            campaign_id=self.campaign_id,
            folder=str(self.folder),
            planned_seconds=self.spec.total_duration,
            stopped_by_drill=stopped_by_drill,
            requests=int(data["requests"]),
            failures=int(data["failures"]),
            slo_met=bool(data["slo_met"]),
            slo=list(data["slo"]),
            aborted=str(data.get("aborted") or ""),
            window_s=REPORT_WINDOW_S,
            points=points_from_history(history.read_text() if history.exists() else ""),
        )

    def _master_running(self) -> bool:
        master = self.backend.master
        try:
            return master is not None and master.is_running() and master.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False


def points_from_history(text: str, window: float = REPORT_WINDOW_S) -> list[LoadPoint]:
    """Per second, from Locust's stats history (one Aggregated row a second, with the
    master's running totals): what the totals grew by in that second, the error rate over
    the trailing `window` (the master's totals only move when a worker reports), and the
    p95 of Locust's recent window. The first row only opens the first second."""
    rows = [
        (float(row["Timestamp"]), _count(row["Total Request Count"]), _count(row["Total Failure Count"]), row)
        for row in csv.DictReader(io.StringIO(text))
        if row.get("Name") == "Aggregated"
    ]
    points = []
    for index, (at, requests, failures, row) in enumerate(rows[1:], start=1):
        _, before_requests, before_failures, _ = rows[index - 1]
        # The newest row at least `window` seconds older: the start of the trailing window.
        _, start_requests, start_failures, _ = next(
            (r for r in reversed(rows[:index]) if r[0] <= at - window), rows[0]
        )
        served, failed = requests - start_requests, failures - start_failures
        points.append(
            LoadPoint(
                at,
                requests - before_requests,
                failures - before_failures,
                failed / served if served else None,
                _number(row["95%"]),
            )
        )
    return points


def _count(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:  # "N/A" before the first response
        return None
