"""The demo's database DR steps: the warehouse's writer failed over to its reader (a real
PostgreSQL streaming replica) while ingest traffic runs, and the DR readiness assessment of
the local environment once every demo step has run."""

from __future__ import annotations

import time
from typing import Any

from loadtest.payloads import PayloadGenerator
from ops.demo.run import FAILOVER_RATE, LOAD_TIMEOUT, missing_acknowledged
from ops.demo.traffic import PacedTraffic
from ops.inventory.environment import Environment
from ops.local.platform import LocalPlatform, require_running
from ops.local.state import PlatformRecord
from ops.runbook.report import write_run_report
from ops.telemetry.tracing import span
from ops.util.ids import new_run_id


def failover_under_traffic(
    env: Environment, platform: LocalPlatform, record: PlatformRecord, seed: int
) -> dict[str, Any]:
    """aurora-failover (mode writer) while traffic runs: the runbook's outputs (RTO, the
    loss measured from the rows), the clients' longest gap, and that every acknowledged
    record is in the new writer."""
    from ops.runbook.engine import RunbookEngine, parse_params
    from runbooks import REGISTRY

    runbook = REGISTRY["aurora-failover"]
    name = f"aurora-{new_run_id()}"
    traffic = PacedTraffic(record.ingest_url, PayloadGenerator(name, seed=seed), rate=FAILOVER_RATE)
    with span("demo.aurora_failover"), traffic:
        traffic.wait_for(int(FAILOVER_RATE))
        before = time.monotonic()
        params = parse_params(runbook, {})
        outcome = RunbookEngine(platform.state).run(
            runbook, env, params, execute=True, approve=lambda _: None
        )
        traffic.wait_for(traffic.count() + int(FAILOVER_RATE))  # flowing again, to the new writer
        gap = traffic.longest_gap(before)
    endpoint = platform.warehouse_endpoint(require_running(platform.state))
    missing = missing_acknowledged(endpoint, traffic.acknowledged)
    deadline = time.monotonic() + LOAD_TIMEOUT
    while missing and time.monotonic() < deadline:  # through Kafka the loader writes after the ack
        time.sleep(0.5)
        missing = missing_acknowledged(endpoint, traffic.acknowledged)
    return {
        **outcome.record.outputs,
        "run_id": outcome.record.run_id,
        "status": outcome.record.status,
        "report": str(write_run_report(outcome.record, outcome.folder).html),
        "acknowledged": len(traffic.acknowledged),
        "lost": len(missing),
        "client_longest_gap_s": round(gap, 2),
    }


def readiness(env: Environment, platform: LocalPlatform) -> dict[str, Any]:
    """`ops dr assess` of the local environment: a verdict per stateful component."""
    from ops.local.gaps import UNEMULATED_KINDS
    from ops.local.readiness import LocalProbes
    from ops.readiness.assess import AwsReads, assess
    from ops.readiness.report import write_readiness
    from ops.runbook.drill import read_history

    record = require_running(platform.state)
    with span("demo.readiness"):
        assessment = assess(
            env,
            AwsReads(platform.aws(record)),
            LocalProbes(env, platform.state),
            read_history(platform.state, env.name),
            unassessed=UNEMULATED_KINDS,
        )
        paths = write_readiness(
            platform.state.reports_dir / f"readiness-{env.name}-{new_run_id()}", assessment
        )
    return {
        "verdicts": {c.component: c.verdict.value for c in assessment.components},
        "reasons": {c.component: list(c.reasons) for c in assessment.components},
        "not_assessed": dict(assessment.not_assessed),
        "report": str(paths.html),
    }
