"""Load on the ingest path: financial transactions and insurance claims, FastHttpUser.

Run by `ops loadtest run` (a Locust master and worker processes, here or on Fargate).
Settings come from the environment the campaign engine sets:
  OPS_LOADTEST_PLAN           the load plan (loadtest/shape.py, JSON): stages of users, or
                              of arrival rates for the open model
  OPS_LOADTEST_SEED           payload seed (each worker adds its index)
  OPS_LOADTEST_CLAIM_SHARE    share of insurance claims, 0..1 (default 0.5)
  OPS_LOADTEST_WAIT_S         think time between requests of one user (closed model)
  OPS_LOADTEST_SAMPLES_DIR    where each process writes its raw samples (checks, benches)
  OPS_LOADTEST_RESULTS_DIR    where the master writes arrivals.json (open model counts)
  OPS_LOADTEST_RESULTS_S3     s3://bucket/prefix/: the master uploads its final statistics
                              and Locust's own HTML report (--html) there when it quits (Fargate)
Without OPS_LOADTEST_PLAN it is a plain locustfile (`locust -f` with -u/-r/-t).
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from pathlib import Path
from typing import Any

import gevent
from gevent.queue import Channel, Empty, Full
from locust import LoadTestShape, constant, events, task
from locust.contrib.fasthttp import FastHttpUser
from locust.runners import MasterRunner, WorkerRunner

from loadtest.payloads import PayloadGenerator
from loadtest.shape import Plan
from ops.contracts import FINANCIAL_PATH, INSURANCE_PATH

RUN = uuid.uuid4().hex[:8]  # this process's share of unique record ids
_generator = PayloadGenerator(f"lt{RUN}", seed=int(os.environ.get("OPS_LOADTEST_SEED", "0")))
_claims = float(os.environ.get("OPS_LOADTEST_CLAIM_SHARE", "0.5"))
_samples: list[str] = []
PLAN = Plan.from_json(os.environ["OPS_LOADTEST_PLAN"]) if os.environ.get("OPS_LOADTEST_PLAN") else None
OPEN = PLAN is not None and PLAN.model == "open"
STARTUP_S = 3.0  # the open model starts its clock once this worker's users are spawned

# Open model: the dispatcher hands each due iteration to a waiting user through the
# channel; with no user waiting, the iteration is dropped (k6's dropped_iterations).
_tickets: Channel = Channel()
_started: list[int] = [0] * (len(PLAN.stages) if PLAN else 0)
_dropped: list[int] = [0] * (len(PLAN.stages) if PLAN else 0)
_by_worker: dict[str, dict[str, list[int]]] = {}  # master: each worker's latest counts


class IngestUser(FastHttpUser):
    wait_time = constant(0 if OPEN else float(os.environ.get("OPS_LOADTEST_WAIT_S", "0")))

    def on_start(self) -> None:
        self.rng = random.Random(f"{RUN}:{id(self)}")

    @task
    def ingest(self) -> None:
        if OPEN:
            try:
                _tickets.get(timeout=0.5)  # wait for an arrival
            except Empty:
                return  # none yet: back to the task loop, which ends here when the run stops
        if self.rng.random() < _claims:
            self.client.post(INSURANCE_PATH, json=_generator.insurance_claim(), name="claim")
        else:
            record = _generator.financial_transaction()
            self.client.post(FINANCIAL_PATH, json=record, name="transaction")


if PLAN is not None:

    class CampaignShape(LoadTestShape):
        """Users per the plan (closed), or the open model's users held while it lasts."""

        def tick(self) -> tuple[int, float] | None:
            assert PLAN is not None
            run_time: float = self.get_run_time()  # type: ignore[no-untyped-call]
            if OPEN:
                spawn_rate = max(PLAN.max_users / 1.0, 1.0)  # all of them within a second
                return (PLAN.max_users, spawn_rate) if run_time < PLAN.duration + STARTUP_S + 1 else None
            if run_time >= PLAN.duration:
                return None
            return (max(round(PLAN.level_at(run_time)), 1), PLAN.spawn_rate)


def _dispatch(plan: Plan, share: float) -> None:
    """Start this worker's share of the plan's iterations on time (catching up when late)."""
    gevent.sleep(STARTUP_S)  # every worker's users spawned (k6 pre-allocates its VUs)
    clock = time.monotonic()
    issued = 0
    while True:
        elapsed = time.monotonic() - clock
        due = int(plan.arrivals_by(min(elapsed, plan.duration)) * share + 1e-9)
        stage = plan.stage_of(min(elapsed, plan.duration - 1e-9))
        while issued < due:
            issued += 1
            try:
                _tickets.put(stage, block=False)
                _started[stage] += 1
            except Full:
                _dropped[stage] += 1
        if elapsed >= plan.duration:
            return
        gevent.sleep(0.002)


@events.test_start.add_listener  # type: ignore[untyped-decorator]
def _start_arrivals(environment: Any, **_: Any) -> None:
    if OPEN and PLAN is not None and not isinstance(environment.runner, MasterRunner):
        gevent.spawn(_dispatch, PLAN, 1.0 / max(PLAN.workers, 1))


@events.test_stop.add_listener  # type: ignore[untyped-decorator]
def _final_report(environment: Any, **_: Any) -> None:
    """A worker told to stop says `client_stopped` right after its users stop, and the master
    then discards that worker's later reports: the last requests would be lost. Report them
    now, before it says so (what Locust itself does on `quit`)."""
    if isinstance(environment.runner, WorkerRunner):
        environment.runner._send_stats()


@events.report_to_master.add_listener  # type: ignore[untyped-decorator]
def _report_arrivals(client_id: str, data: dict[str, Any]) -> None:
    if OPEN:
        data["ops_arrivals"] = {"started": list(_started), "dropped": list(_dropped)}


@events.worker_report.add_listener  # type: ignore[untyped-decorator]
def _collect_arrivals(client_id: str, data: dict[str, Any]) -> None:
    if "ops_arrivals" in data:
        _by_worker[client_id] = data["ops_arrivals"]  # cumulative: the latest report wins


def arrivals() -> dict[str, Any]:
    """Per stage: iterations due by the plan, started, dropped (summed over workers)."""
    if PLAN is None or not OPEN:
        return {}
    stages = []
    for index, (begin, end) in enumerate(PLAN.stage_bounds()):
        stages.append(
            {
                "duration_s": end - begin,
                "expected": round(PLAN.arrivals_by(end) - PLAN.arrivals_by(begin), 3),
                "started": sum(w["started"][index] for w in _by_worker.values()),
                "dropped": sum(w["dropped"][index] for w in _by_worker.values()),
            }
        )
    return {"workers_reporting": len(_by_worker), "stages": stages}


@events.init.add_listener  # type: ignore[untyped-decorator]
def _arrivals_route(environment: Any, **_: Any) -> None:
    if environment.web_ui is not None:
        environment.web_ui.app.add_url_rule("/ops/arrivals", "ops_arrivals", lambda: arrivals())


@events.request.add_listener  # type: ignore[untyped-decorator]
def _record(request_type: str, name: str, response_time: float, exception: Any, **_: Any) -> None:
    if os.environ.get("OPS_LOADTEST_SAMPLES_DIR"):
        _samples.append(f"{name},{response_time:.3f},{0 if exception else 1}\n")


@events.quitting.add_listener  # type: ignore[untyped-decorator]
def _write_files(environment: Any, **_: Any) -> None:
    folder = os.environ.get("OPS_LOADTEST_SAMPLES_DIR")
    if folder and isinstance(environment.runner, WorkerRunner) and _samples:
        Path(folder, f"samples-{RUN}.csv").write_text("".join(_samples))
    results = os.environ.get("OPS_LOADTEST_RESULTS_DIR")
    if results and OPEN and isinstance(environment.runner, MasterRunner):
        Path(results, "arrivals.json").write_text(json.dumps(arrivals(), indent=2) + "\n")
    report = _html_report(environment) if isinstance(environment.runner, MasterRunner) else None
    upload_to = os.environ.get("OPS_LOADTEST_RESULTS_S3")
    if upload_to and isinstance(environment.runner, MasterRunner):
        _upload(upload_to, environment, report)


def _html_report(environment: Any) -> Path | None:
    """Locust's own HTML report (--html). Locust writes it when its run ends by itself, just
    before this event; SIGTERM (an abort rule, a stopped task) skips that: write it then,
    with the renderer --html uses."""
    name = getattr(environment.parsed_options, "html_file", None)
    if not name:
        return None
    path = Path(name)
    if not path.exists():
        from locust.html import get_html_report

        page = get_html_report(environment, show_download_link=False)  # type: ignore[no-untyped-call]
        path.write_text(page, encoding="utf-8")
    return path


def _upload(url: str, environment: Any, report: Path | None) -> None:
    """On Fargate, where nobody reads the master's disk: its final statistics (histograms
    included), the arrivals and the history to s3://bucket/prefix/."""
    import boto3  # only the master of a Fargate campaign needs it

    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    files = {
        # serialize(), not serialize_stats(): that one resets the entries it reports.
        "stats.json": json.dumps(
            [
                entry.serialize()
                for entry in environment.runner.stats.entries.values()
                if entry.num_requests or entry.num_failures
            ]
        ),
        "arrivals.json": json.dumps(arrivals()),
    }
    history = Path(f"{environment.parsed_options.csv_prefix}_stats_history.csv")
    if environment.parsed_options.csv_prefix and history.exists():
        files["locust_stats_history.csv"] = history.read_text()
    if report is not None:
        files[report.name] = report.read_text(encoding="utf-8")
    s3 = boto3.client("s3")
    for name, body in files.items():
        s3.put_object(Bucket=bucket, Key=prefix + name, Body=body.encode())
