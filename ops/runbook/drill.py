"""DR drills: a runbook run that restores to a scratch name, validates, measures against
the inventory's objectives, tears down, never cuts over; kept in a history and published
to CloudWatch (DrillRTOSeconds, DrillRPOSeconds, DrillSuccess) for alarms.

A drill fails loudly, whatever ends it. The history (`<state>/drills/history.jsonl`) is
append-only: a `started` entry (with the process's pid and host) is written before the
drill's first step, an `ended` entry when it ends, success or not (an AWS or database
error, a timeout, SIGINT/SIGTERM); `read_history` merges them. Every end publishes
DrillSuccess (0 unless the objectives were met). A drill whose process died (SIGKILL, a
dead laptop) has no `ended` entry: the next drill command closes it as failed, tears down
what it left (its run's rollbacks: the drill's run id is its drill id) and publishes
DrillSuccess=0 for it (`close_dead_drills`)."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from ops.errors import BadInput, Interrupted, OpsError
from ops.inventory.environment import Environment
from ops.runbook.controls import Control
from ops.runbook.drill_load import DrillLoad, LoadOutcome
from ops.runbook.engine import RunbookEngine, load_record, parse_params, runs_dir
from ops.runbook.journal import Journal, RunRecord
from ops.runbook.model import Runbook
from ops.runbook.report import write_drill_report
from ops.state import StateDir
from ops.util.ids import new_run_id

log = logging.getLogger(__name__)

METRIC_NAMESPACE = "PlatformOps/Drills"
DIED = "the drill's process died"


@dataclass
class DrillResult:
    drill_id: str
    runbook: str
    environment: str
    component: str
    started_at: str
    success: bool
    rto_seconds: float | None
    rpo_seconds: float | None
    rto_objective: float | None
    rpo_objective: float | None
    run_id: str
    error: str = ""
    status: str = "running"  # running, completed (objectives_met says if they were met), failed
    ended_at: str = ""
    teardown_left: list[str] = field(default_factory=list)  # rollbacks that could not be done
    pid: int = 0
    host: str = ""
    process_started: float = 0.0  # the process's start time: a reused pid is another process
    # Under load (`--load`): the campaign's id and name, then its verdict (LoadOutcome.summary);
    # `error` when the load failed. Its SLO is reported; it does not set the drill's success.
    load: dict[str, Any] | None = None
    report: str = ""  # the drill's report.html

    @property
    def objectives_met(self) -> bool:
        return (
            self.success
            and (self.rto_objective is None or (self.rto_seconds or 0) <= self.rto_objective)
            and (self.rpo_objective is None or (self.rpo_seconds or 0) <= self.rpo_objective)
        )

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "objectives_met": self.objectives_met}


Publish = Callable[[DrillResult], None]


@dataclass
class DrillHost:
    """What only the command knows: where state lives, how to reach an environment's AWS
    (the emulator for the local one), how to find a runbook and an environment by name
    (to close a dead drill), and what else hears of a drill's end (the toolkit's metrics)."""

    state: StateDir
    aws_for: Callable[[Environment], Any]  # a ClientFactory, the same for every call
    runbook_of: Callable[[str], Runbook]
    env_of: Callable[[str], Environment]
    controls: tuple[Control, ...] = ()
    telemetry: Publish = lambda _result: None

    def publish(self, env: Environment, result: DrillResult) -> None:
        publish(self.aws_for(env).client("cloudwatch"), result)
        self.telemetry(result)

    def engine(self, env: Environment) -> RunbookEngine:
        # The local provider reaches the emulator itself; the engine's AWS is a cloud's.
        aws = self.aws_for(env) if env.provider != "local" else None
        return RunbookEngine(self.state, aws=aws, controls=self.controls)


def history_file(state: StateDir) -> Path:
    return state.root / "drills" / "history.jsonl"


def drill_folder(state: StateDir, drill_id: str) -> Path:
    """Where a drill's report is written."""
    return state.root / "drills" / drill_id


def run_drill(
    host: DrillHost, env: Environment, runbook: Runbook, component: str, load: DrillLoad | None = None
) -> DrillResult:
    """Record the drill as started; run, measure, tear down (whatever happened: the run's
    own rollbacks); record how it ended, write its report and publish it. An interruption
    is re-raised once the drill is recorded and published; any other error ends the drill
    as failed. Under `load`, the load flows before the first step and is stopped once the
    drill is torn down, whatever ended it; a load that does not start fails the drill."""
    started = datetime.now(UTC)
    drill_id = new_run_id("drill")
    params = parse_params(runbook, runbook.drill_params(env, component, started, drill_id))
    objective = env.spec.objectives.get(component)
    me = psutil.Process()
    result = DrillResult(
        drill_id=drill_id,
        runbook=runbook.name,
        environment=env.name,
        component=component,
        started_at=started.isoformat(),
        success=False,
        rto_seconds=None,
        rpo_seconds=None,
        rto_objective=objective.rto if objective else None,
        rpo_objective=objective.rpo if objective else None,
        run_id=drill_id,
        pid=me.pid,
        host=socket.gethostname(),
        process_started=me.create_time(),
        load={"campaign": load.campaign, "campaign_id": load.campaign_id} if load else None,
    )
    # Reach the environment first: a drill that could not publish its end does not start.
    host.aws_for(env)
    engine = host.engine(env)
    _append(host.state, "started", result)
    outcome = None
    stopped: BaseException | None = None
    try:
        if load is not None:
            load.start()  # flowing before the first step: every step is seen under it
            # Restore to the moment the steps begin, not to before Locust's start-up: the
            # RPO is the run's, not the wait's.
            params = parse_params(runbook, runbook.drill_params(env, component, datetime.now(UTC), drill_id))
        # A drill is never on production traffic: no cutover, so no approval is asked for.
        outcome = engine.run(runbook, env, params, execute=True, approve=lambda _: None, run_id=drill_id)
        outputs = outcome.record.outputs
        result.success = True
        result.rto_seconds = outputs.get("RecoveryTime")
        result.rpo_seconds = outputs.get("RPOSeconds")
    except Exception as error:  # an AWS or database error, a timeout, a crash of a step
        result.error = describe(error)
        log.debug("drill %s failed", drill_id, exc_info=error)  # the traceback, on request
    except BaseException as error:  # SIGINT/SIGTERM (Interrupted): record, publish, re-raise
        result.error = describe(error)
        stopped = error
    seen = None
    try:
        if stopped is None:
            result.teardown_left = _tear_down(host.state, engine, runbook, env, params, drill_id, outcome)
        else:  # the engine rolled the run back before it re-raised: only read what it left
            result.teardown_left = _left_by_run(host.state, drill_id)
    finally:  # even when a second interruption cuts the teardown short: no load outlives it
        if load is not None:
            seen, interrupted = _stop_load(load, result)
            stopped = stopped or interrupted
    _end(result, "completed" if result.success else "failed")
    result.report = _report(host.state, result, seen)
    _append(host.state, "ended", result)
    try:
        host.publish(env, result)
    except Exception as error:
        if stopped is not None:  # the interruption is what the operator must hear of
            log.error("drill %s: DrillSuccess not published: %s", drill_id, describe(error))
        else:
            raise OpsError(
                f"drill {drill_id} is recorded ({result.status}), but its metrics were not published: "
                f"{describe(error)}"
            ) from None
    if stopped is not None:
        raise stopped
    return result


def _stop_load(load: DrillLoad, result: DrillResult) -> tuple[LoadOutcome | None, BaseException | None]:
    """Stop the load (it leaves no process, even when it raises) and keep its verdict in the
    result. A load that fails at its end does not change the drill's result: its error is
    recorded with it. A second interruption while it stops is handed back, to be re-raised
    once the drill is recorded."""
    assert result.load is not None
    try:
        seen = load.stop()
    except Exception as error:
        result.load["error"] = describe(error)
        log.error("drill %s: load %s: %s", result.drill_id, load.campaign_id, describe(error))
        return None, None
    except BaseException as error:  # SIGINT/SIGTERM again, while it stopped
        result.load["error"] = describe(error)
        return None, error
    result.load.update(seen.summary())
    return seen, None


def _report(state: StateDir, result: DrillResult, load: LoadOutcome | None) -> str:
    """The drill's report (HTML, Markdown, JSON); a report that cannot be written is logged,
    and does not change how the drill ended."""
    journal = Journal(runs_dir(state) / result.run_id)
    try:
        events = journal.events()
        record = RunRecord.from_journal(result.run_id, journal) if events else None
        folder = drill_folder(state, result.drill_id)
        paths = write_drill_report(folder, result.as_dict(), record, events, load)
    except Exception as error:
        log.error("drill %s: report not written: %s", result.drill_id, describe(error))
        return ""
    return str(paths.html)


def _tear_down(
    state: StateDir,
    engine: RunbookEngine,
    runbook: Runbook,
    env: Environment,
    params: Any,
    drill_id: str,
    outcome: object,
) -> list[str]:
    """Undo a completed drill run; a failed one rolled itself back. What is left is
    journaled as the run's `rollback-failed`, so `ops runbook abort` can try again."""
    if outcome is None:
        return _left_by_run(state, drill_id)
    try:
        left = engine.undo(runbook, env, params, drill_id)
    except Exception as error:
        log.error("drill %s: teardown failed: %s", drill_id, describe(error))
        left = ["teardown"]
    if left:
        Journal(runs_dir(state) / drill_id).append(
            "run-rollback-failed", error="drill teardown", left=left, stopped_by="drill"
        )
    return left


def _left_by_run(state: StateDir, run_id: str) -> list[str]:
    with suppress(BadInput):  # refused before it started (a lock held): nothing to undo
        record = load_record(state, run_id)
        return list(record.left) if record.status == "rollback-failed" else []
    return []


def _end(result: DrillResult, status: str) -> None:
    result.status = status
    result.ended_at = datetime.now(UTC).isoformat()
    if result.teardown_left:
        result.success = False  # a drill that leaves its scratch copy behind did not pass
        left = ", ".join(result.teardown_left)
        teardown = f"teardown left {left}: `ops runbook abort {result.run_id}` once the cause is fixed"
        result.error = f"{result.error}; {teardown}" if result.error else teardown
        result.status = "failed"


def describe(error: BaseException) -> str:
    """One line: an OpsError's own message; any other error's type and message."""
    text = " ".join(str(error).split())
    if isinstance(error, OpsError | Interrupted):
        return text
    if isinstance(error, KeyboardInterrupt):
        return "interrupted"
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


# --- the history ---------------------------------------------------------------------------
def _append(state: StateDir, event: str, result: DrillResult) -> None:
    path = history_file(state)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps({"event": event, **result.as_dict()}) + "\n")
        out.flush()
        os.fsync(out.fileno())  # a started entry must outlive the crash it is there for


def _merged(state: StateDir) -> dict[str, dict[str, Any]]:
    """Each drill's entries merged, oldest first: its `ended` entry over its `started` one.
    A line without `event` is a drill recorded whole, as the history was written before."""
    path = history_file(state)
    if not path.exists():
        return {}
    drills: dict[str, dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by a crash
        if not isinstance(entry, dict) or "drill_id" not in entry:
            continue
        event = entry.pop("event", "ended")
        merged = drills.setdefault(entry["drill_id"], {})
        if event == "started" and merged:
            continue  # an ended entry stands
        merged.update(entry)
        merged.setdefault("status", "completed" if entry.get("success") else "failed")
    return drills


def read_history(state: StateDir, environment: str | None = None) -> list[dict[str, Any]]:
    entries = list(_merged(state).values())
    return [e for e in entries if environment is None or e["environment"] == environment]


def _from_entry(entry: dict[str, Any]) -> DrillResult:
    known = DrillResult.__dataclass_fields__
    return DrillResult(**{k: v for k, v in entry.items() if k in known})


def _process_gone(entry: dict[str, Any]) -> bool:
    """True only when the drill ran on this machine and its process is no more (another
    machine's drill is never assumed dead)."""
    if entry.get("host") != socket.gethostname():
        return False
    pid = entry.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        process = psutil.Process(pid)
        if abs(process.create_time() - float(entry.get("process_started") or 0)) > 1:
            return True  # the pid was reused by another process
        return bool(process.status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


@contextmanager
def _history_lock(state: StateDir) -> Iterator[None]:
    """One closer at a time: two commands must not close (and publish) one drill twice."""
    path = history_file(state).with_suffix(".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def close_dead_drills(host: DrillHost, environment: str | None = None) -> list[DrillResult]:
    """Close as failed every started drill of this machine whose process is gone: tear down
    what it left (its run's rollbacks, under the run's lock), publish DrillSuccess=0, then
    record its end. A drill that cannot be published now stays open for the next command;
    a teardown that cannot be done is named in its error, for `ops runbook abort`."""
    closed: list[DrillResult] = []
    with _history_lock(host.state):
        for entry in _merged(host.state).values():
            if entry.get("status") != "running" or not _process_gone(entry):
                continue
            if environment is not None and entry.get("environment") != environment:
                continue
            result = _from_entry(entry)
            try:
                closed.append(_close_dead(host, result))
            except Exception as error:  # AWS unreachable, environment gone: try next time
                log.warning("could not close the dead drill %s yet: %s", result.drill_id, describe(error))
    return closed


def _close_dead(host: DrillHost, result: DrillResult) -> DrillResult:
    env = host.env_of(result.environment)
    result.error = f"{DIED} (pid {result.pid} on {result.host})"
    result.teardown_left = _abort(host, env, result.run_id)
    _end(result, "failed")
    host.publish(env, result)  # before the end is recorded: a failed publish is tried again
    _append(host.state, "ended", result)
    log.warning("drill %s: %s; closed as failed", result.drill_id, result.error)
    return result


def _abort(host: DrillHost, env: Environment, run_id: str) -> list[str]:
    """Undo what the dead drill's run did: its journal's steps, newest first."""
    try:
        record = load_record(host.state, run_id)
    except BadInput:
        return []  # died before its run started: nothing was done
    runbook = host.runbook_of(record.runbook)
    params = parse_params(runbook, record.params)
    try:
        host.engine(env).abort(runbook, env, params, run_id)
    except OpsError as error:  # a rollback failed, or a live run holds the target's lock
        log.error("drill %s: teardown: %s", run_id, error)
        left = _left_by_run(host.state, run_id)
        return left or ["teardown"]
    return []


def publish(cloudwatch: Any, result: DrillResult, timestamp: datetime | None = None) -> None:
    """One PutMetricData call: the drill's figures, by environment, component and runbook,
    at `timestamp`, by default when the drill ended: its point then falls in the same
    CloudWatch period as the history's `ended_at` (ops/runbook/drill_metrics.py merges on it)."""
    if timestamp is None and result.ended_at:
        with suppress(ValueError):
            timestamp = datetime.fromisoformat(result.ended_at)
    dims = [
        {"Name": "Environment", "Value": result.environment},
        {"Name": "Component", "Value": result.component},
        {"Name": "Runbook", "Value": result.runbook},
    ]
    at: dict[str, Any] = {"Timestamp": timestamp} if timestamp is not None else {}
    data = [
        {
            "MetricName": "DrillSuccess",
            "Dimensions": dims,
            "Value": 1.0 if result.objectives_met else 0.0,
            **at,
        }
    ]
    for name, value in (("DrillRTOSeconds", result.rto_seconds), ("DrillRPOSeconds", result.rpo_seconds)):
        if value is not None:
            data.append({"MetricName": name, "Dimensions": dims, "Value": value, "Unit": "Seconds", **at})
    cloudwatch.put_metric_data(Namespace=METRIC_NAMESPACE, MetricData=data)
