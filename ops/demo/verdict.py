"""The demo report's first lines: the verdict (data kept, SLO met, the DR runs within their
objectives), what the demo changed on the local platform, and links to each part's report."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ops.report import human
from ops.report.writer import Check, Verdict

if TYPE_CHECKING:
    from ops.demo.run import DemoOutcome


def _lost(moved: dict[str, Any]) -> int:
    counts = moved.get("LostCommits") or {}
    return int(moved.get("lost") or 0) + sum(int(v) for v in counts.values())


def demo_verdict(outcome: DemoOutcome) -> Verdict:
    burst = outcome.burst
    checks = [
        Check(
            "accepted records stored",
            str(burst.accepted),
            str(outcome.stored),
            outcome.stored == burst.accepted,
        ),
        Check("invalid records stored", "0", str(outcome.stored_invalid), outcome.stored_invalid == 0),
    ]
    checks += [Check(f"ingest {m}", o, v, ok) for m, o, v, ok in outcome.slo_checks]
    changes = []
    if outcome.observability is not None:
        changes.append(
            f"applied {outcome.observability.applied} observability resources (alarms, dashboards, ADOT)"
        )
    if outcome.pitr is not None:
        pitr = outcome.pitr
        checks.append(
            Check("PITR: RTO", "run start to cutover", human.seconds(pitr.get("RecoveryTime")), None)
        )
        changes.append(
            f"restored the warehouse to {human.moment(str(pitr.get('TargetTime')))} and cut over (rds-pitr)"
        )
    if outcome.database_failover is not None:
        db = outcome.database_failover
        checks.append(Check("database failover: records lost", "0", str(_lost(db)), _lost(db) == 0))
        changes.append(f"failed the warehouse's writer over: {db.get('OldWriter')} -> {db.get('NewWriter')}")
    if outcome.failover is not None:
        moved = outcome.failover
        checks.append(
            Check("MSK failover and failback: records lost", "0", str(moved["lost"]), moved["lost"] == 0)
        )
        changes.append("moved the Kafka clients to the DR cluster and back (msk-failover, msk-failback)")
    if outcome.campaign is not None:
        met = bool(outcome.campaign.get("slo_met"))
        checks.append(Check("load-test campaign smoke: SLO", "met", "met" if met else "missed", met))
    if not outcome.data_ok or not outcome.observability_ok:
        what = (
            "records lost or stored wrongly" if not outcome.data_ok else "observability not applied cleanly"
        )
        return Verdict("failed", f"the demo failed: {what}", checks, changes)
    headline = f"every accepted record stored ({outcome.stored}); nothing lost in the DR runs"
    if not outcome.slo_met:
        return Verdict("missed", headline + "; an SLO was missed", checks, changes)
    return Verdict("met", headline + "; every SLO met", checks, changes)


def demo_links(folder: Path, outcome: DemoOutcome) -> list[tuple[str, str]]:
    """The reports of the demo's parts, relative to the demo report's folder."""
    found: list[tuple[str, Any]] = []
    if outcome.pitr is not None:
        found.append(("point-in-time recovery run", outcome.pitr.get("report")))
    if outcome.database_failover is not None:
        found.append(("database failover run", outcome.database_failover.get("report")))
    if outcome.failover is not None:
        for runbook in ("msk-failover", "msk-failback"):
            found.append((f"{runbook} run", outcome.failover.get(runbook, {}).get("report")))
    if outcome.campaign is not None and outcome.campaign.get("folder"):
        found.append(("load-test campaign", str(Path(outcome.campaign["folder"]) / "report.html")))
    if outcome.readiness is not None:
        found.append(("DR readiness", outcome.readiness.get("report")))
    return [(text, os.path.relpath(path, folder)) for text, path in found if path and Path(path).exists()]
