"""DR drills: a runbook run that restores to a scratch name, validates, measures against
the inventory's objectives, tears down, never cuts over; kept in a history and published
to CloudWatch (DrillRTOSeconds, DrillRPOSeconds, DrillSuccess) for alarms."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ops.errors import OpsError
from ops.inventory.environment import Environment
from ops.runbook.controls import Control
from ops.runbook.engine import RunbookEngine, parse_params
from ops.runbook.model import Runbook
from ops.state import StateDir
from ops.util.ids import new_run_id

log = logging.getLogger(__name__)

METRIC_NAMESPACE = "PlatformOps/Drills"


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

    @property
    def objectives_met(self) -> bool:
        return (
            self.success
            and (self.rto_objective is None or (self.rto_seconds or 0) <= self.rto_objective)
            and (self.rpo_objective is None or (self.rpo_seconds or 0) <= self.rpo_objective)
        )


def history_file(state: StateDir) -> Path:
    return state.root / "drills" / "history.jsonl"


def run_drill(
    state: StateDir,
    env: Environment,
    runbook: Runbook,
    component: str,
    aws: Any = None,
    controls: tuple[Control, ...] = (),
) -> DrillResult:
    """Run, measure, tear down (whatever happened: the run's own rollbacks), record."""
    started = datetime.now(UTC)
    drill_id = new_run_id("drill")
    params = parse_params(runbook, runbook.drill_params(env, component, started, drill_id))
    objective = env.spec.objectives.get(component)
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
    )
    engine = RunbookEngine(state, aws=aws, controls=controls)
    outcome = None
    try:
        # A drill is never on production traffic: no cutover, so no approval is asked for.
        outcome = engine.run(runbook, env, params, execute=True, approve=lambda _: None, run_id=drill_id)
        outputs = outcome.record.outputs
        result.success = True
        result.rto_seconds = outputs.get("RecoveryTime")
        result.rpo_seconds = outputs.get("RPOSeconds")
    except OpsError as error:
        result.error = str(error)
    finally:
        if outcome is not None:  # a failed run rolled itself back already
            engine.undo(runbook, env, params, drill_id)
    append_history(state, result)
    return result


def append_history(state: StateDir, result: DrillResult) -> None:
    path = history_file(state)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps({**asdict(result), "objectives_met": result.objectives_met}) + "\n")


def read_history(state: StateDir, environment: str | None = None) -> list[dict[str, Any]]:
    path = history_file(state)
    if not path.exists():
        return []
    entries = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [e for e in entries if environment is None or e["environment"] == environment]


def publish(cloudwatch: Any, result: DrillResult) -> None:
    """One PutMetricData call: the drill's figures, by environment, component and runbook."""
    dims = [
        {"Name": "Environment", "Value": result.environment},
        {"Name": "Component", "Value": result.component},
        {"Name": "Runbook", "Value": result.runbook},
    ]
    data = [
        {"MetricName": "DrillSuccess", "Dimensions": dims, "Value": 1.0 if result.objectives_met else 0.0}
    ]
    for name, value in (("DrillRTOSeconds", result.rto_seconds), ("DrillRPOSeconds", result.rpo_seconds)):
        if value is not None:
            data.append({"MetricName": name, "Dimensions": dims, "Value": value, "Unit": "Seconds"})
    cloudwatch.put_metric_data(Namespace=METRIC_NAMESPACE, MetricData=data)
