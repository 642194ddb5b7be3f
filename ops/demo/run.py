"""The demo's steps: inventory check, local platform up, a burst of real traffic, a check
that every accepted record (and no rejected one) is in PostgreSQL, and a report."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from loadtest.payloads import PayloadGenerator
from ops.campaign.results import checks_payload
from ops.contracts import DatabaseEndpoint
from ops.demo.traffic import BurstResult, PacedTraffic, percentile, send_burst
from ops.inventory.environment import Environment
from ops.inventory.loader import Inventory
from ops.local.platform import LocalPlatform
from ops.local.state import PlatformRecord
from ops.report import human
from ops.report.charts import bar_chart
from ops.report.writer import ReportPaths, Section, write_report
from ops.runbook.report import write_run_report
from ops.telemetry.tracing import span
from ops.util.ids import new_run_id

INGEST_SLO = "ingest"
LOAD_TIMEOUT = 60.0  # accepted records reaching PostgreSQL and DR through Kafka


@dataclass
class DemoOutcome:
    run_id: str
    burst: BurstResult
    stored: int
    stored_invalid: int
    slo_checks: list[tuple[str, str, str, bool]] = field(default_factory=list)
    observability: ObserveOutcome | None = None
    pitr: dict[str, Any] | None = None
    failover: dict[str, Any] | None = None
    database_failover: dict[str, Any] | None = None
    readiness: dict[str, Any] | None = None
    campaign: dict[str, Any] | None = None
    kafka: dict[str, Any] | None = None
    report: ReportPaths | None = None

    @property
    def data_ok(self) -> bool:
        moved, database = self.failover, self.database_failover
        return (
            self.stored == self.burst.accepted
            and self.stored_invalid == 0
            and not self.burst.wrongly_accepted
            and (moved is None or (moved["lost"] == 0 and _stored_twice(moved) == 0))
            and (
                database is None
                or (database["lost"] == 0 and not any((database["LostCommits"] or {}).values()))
            )
        )

    @property
    def slo_met(self) -> bool:
        campaign_met = self.campaign is None or bool(self.campaign["slo_met"])
        return all(ok for *_, ok in self.slo_checks) and campaign_met

    @property
    def observability_ok(self) -> bool:
        return self.observability is None or (
            not self.observability.failed and self.observability.second_plan_pending == 0
        )


def pitr_under_traffic(
    env: Environment, platform: LocalPlatform, record: PlatformRecord, seed: int
) -> dict[str, Any]:
    """Restore the warehouse to a moment in the middle of a burst of ingest traffic and cut
    over to it while the traffic goes on: the runbook's outputs (RTO, RPO, rows verified)."""
    import threading
    import time

    from ops.runbook.engine import RunbookEngine, parse_params
    from runbooks import REGISTRY

    runbook = REGISTRY["rds-pitr"]
    generator = PayloadGenerator(f"pitr-{new_run_id()}", seed=seed)
    burst = threading.Thread(target=send_burst, args=(record.ingest_url, generator, 1500, 4), daemon=True)
    with span("demo.pitr"):
        time.sleep(1.1)  # the target must follow the newest base backup, to the second
        burst.start()
        time.sleep(0.8)
        target = datetime.now(UTC)
        time.sleep(0.5)
        params = parse_params(runbook, {"target_time": target.isoformat(), "cutover": True})
        outcome = RunbookEngine(platform.state).run(
            runbook, env, params, execute=True, approve=lambda _: None
        )
        burst.join()
    return {
        **outcome.record.outputs,
        "run_id": outcome.record.run_id,
        "report": str(write_run_report(outcome.record, outcome.folder).html),
    }


def _stored_twice(moved: dict[str, Any]) -> int:
    return sum(int(moved[runbook].get("StoredTwice") or 0) for runbook in ("msk-failover", "msk-failback"))


FAILOVER_RATE = 40.0  # records a second while the Kafka clients move (the local SLO's rate x2)


def msk_failover_under_traffic(
    env: Environment, platform: LocalPlatform, record: PlatformRecord, seed: int
) -> dict[str, Any]:
    """A planned msk-failover to the DR cluster and the msk-failback, while ingest traffic
    runs: each move's write unavailability and consumer pause, the records read twice, and
    that every acknowledged record is in PostgreSQL once."""
    from ops.local.platform import require_running
    from ops.runbook.engine import RunbookEngine, parse_params
    from runbooks import REGISTRY

    engine = RunbookEngine(platform.state)
    name = f"msk-{new_run_id()}"
    traffic = PacedTraffic(record.ingest_url, PayloadGenerator(name, seed=seed), rate=FAILOVER_RATE)
    moves: dict[str, dict[str, Any]] = {}
    with span("demo.msk_failover"), traffic:
        traffic.wait_for(int(FAILOVER_RATE))
        for runbook in ("msk-failover", "msk-failback"):
            before = time.monotonic()
            params = parse_params(REGISTRY[runbook], {})
            outcome = engine.run(REGISTRY[runbook], env, params, execute=True, approve=lambda _: None)
            traffic.wait_for(traffic.count() + int(FAILOVER_RATE))  # flowing again
            moves[runbook] = {
                **outcome.record.outputs,
                "run_id": outcome.record.run_id,
                "report": str(write_run_report(outcome.record, outcome.folder).html),
                "client_longest_gap_s": round(traffic.longest_gap(before), 2),
            }
    endpoint = platform.warehouse_endpoint(require_running(platform.state))
    missing = missing_acknowledged(endpoint, traffic.acknowledged)
    deadline = time.monotonic() + LOAD_TIMEOUT
    while missing and time.monotonic() < deadline:  # the loader writes after the brokers ack
        time.sleep(0.5)
        missing = missing_acknowledged(endpoint, traffic.acknowledged)
    acknowledged = len(traffic.acknowledged)
    return {
        **moves,
        "acknowledged": acknowledged,
        "stored": acknowledged - len(missing),
        "lost": len(missing),
        "lost_ids": sorted(missing)[:20],
        "refused_while_held": sum(1 for status in traffic.refused.values() if status == 503),
    }


TABLES = {
    "financial_transaction": ("financial_transactions", "transaction_id"),
    "insurance_claim": (
        "insurance_claims",
        "claim_id",
    ),
}


def missing_acknowledged(endpoint: DatabaseEndpoint, acknowledged: dict[str, str]) -> set[str]:
    """The acknowledged ids (id -> record type) PostgreSQL does not hold."""
    found: set[str] = set()
    with psycopg.connect(endpoint.conninfo) as conn:
        for record_type, (table, key) in TABLES.items():
            ids = [i for i, kind in acknowledged.items() if kind == record_type]
            rows = conn.execute(f"SELECT {key} FROM {table} WHERE {key} = ANY(%s)", (ids,)).fetchall()
            found.update(str(row[0]) for row in rows)
    return set(acknowledged) - found


def smoke_campaign(env: Environment, platform: LocalPlatform, record: PlatformRecord) -> dict[str, Any]:
    """loadtest/campaigns/smoke.yaml on 2 local Locust workers, with its SLO verdict."""
    from ops.campaign.engine import run_campaign
    from ops.campaign.local_backend import LocalBackend
    from ops.campaign.spec import load_campaign

    spec = load_campaign("smoke")
    slo = spec.slo or env.spec.slos[INGEST_SLO]
    campaign_id = f"demo-smoke-{new_run_id()}"
    folder = platform.state.root / "loadtests" / campaign_id
    with span("demo.loadtest"):
        outcome = run_campaign(spec, LocalBackend(spec, record.ingest_url, folder), campaign_id, folder, slo)
    return outcome.data


@dataclass
class ObserveOutcome:
    """Alarms, log groups and settings: the first plan, the apply, the second plan."""

    planned: dict[str, int]
    applied: int
    failed: int
    second_plan_pending: int
    resources: int
    by_kind: dict[str, int] = field(default_factory=dict)  # resources in place, per kind


def apply_observability(env: Environment, record: PlatformRecord) -> ObserveOutcome:
    """Plan and apply the environment's observability on the emulator, then plan again:
    the second plan must have nothing to do."""
    from ops.aws.clients import ClientFactory
    from ops.local.emulator import emulator_target
    from ops.observe.grafana_access import grafana_session
    from ops.observe.planning import observe_plan
    from ops.reconcile.engine import apply_plan

    factory = ClientFactory(emulator_target(record.emulator_port, env.region))
    # Grafana's dashboards too when a Grafana is configured (OPS_GRAFANA_URL and OPS_GRAFANA_TOKEN).
    with span("demo.observe"), grafana_session(factory, env) as grafana:
        first = observe_plan(factory, env, grafana=grafana)
        result = apply_plan(first.plan, first.providers)
        second = observe_plan(factory, env, grafana=grafana)
    return ObserveOutcome(
        planned=first.plan.counts(),
        applied=len(result.applied),
        failed=len(result.failed),
        second_plan_pending=len(second.plan.pending),
        resources=len(second.plan.changes),
        by_kind=dict(Counter(c.kind for c in second.plan.changes)),
    )


def start_platform(platform: LocalPlatform) -> tuple[PlatformRecord, DatabaseEndpoint]:
    """Up, and the database the ingest service writes to (once it is surely there)."""
    with span("demo.local_up"):
        record = platform.up()
        endpoint = platform.published_endpoint(record)
        platform.wait_ingest_on(record, endpoint)
        return record, endpoint


def run_traffic(record: PlatformRecord, run_id: str, count: int, seed: int) -> BurstResult:
    with span("demo.traffic", records=count):
        return send_burst(record.ingest_url, PayloadGenerator(run_id, seed=seed), count)


def wait_stored(
    endpoint: DatabaseEndpoint, run_id: str, accepted: int, timeout: float = LOAD_TIMEOUT
) -> tuple[int, int]:
    """`count_stored` once every accepted record is there, or when `timeout` is up: with
    Kafka the loader writes them after the broker acknowledged them."""
    deadline = time.monotonic() + timeout
    while True:
        valid, invalid = count_stored(endpoint, run_id)
        if valid >= accepted or time.monotonic() > deadline:
            return valid, invalid
        time.sleep(0.2)


def kafka_flow(
    platform: LocalPlatform, record: PlatformRecord, timeout: float = LOAD_TIMEOUT
) -> dict[str, Any]:
    """The records' way through Kafka, from the services' own metrics and the clusters:
    produced and acknowledged (ingest), replicated to DR (MirrorMaker 2's lag read from both
    clusters, waited to zero), loaded and redelivered (loader)."""
    from ops.local.mirror import replication_lag

    with span("demo.kafka"):
        ingest = _metric_totals(f"{record.ingest_url}/metrics/")
        lags: dict[str, int] = {}
        deadline = time.monotonic() + timeout
        for name in sorted(platform.kafka.replicators):
            spec = platform.kafka.mirror(record, name).spec
            while sum((lag := replication_lag(spec)).values()) and time.monotonic() < deadline:
                time.sleep(0.5)
            lags[name] = sum(lag.values())
        loader = _metric_totals(f"{record.loader_url}/metrics")
    return {
        "produced": int(ingest.get("ingest_produced_total", 0)),
        "acknowledged": int(ingest.get("ingest_acknowledged_total", 0)),
        "replication_lag": lags,
        "loaded": int(loader.get("loader_stored_total", 0)),
        "redelivered": int(loader.get("loader_redelivered_total", 0)),
        "rejected": int(loader.get("loader_rejected_total", 0)),
    }


def _metric_totals(url: str) -> dict[str, float]:
    """Each sample name's sum over its labels, from a Prometheus endpoint."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(httpx.get(url, timeout=5).text):
        for sample in family.samples:
            totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
    return totals


def count_stored(endpoint: DatabaseEndpoint, run_id: str) -> tuple[int, int]:
    """Rows of this run that reached the database: (valid ids, ids of invalid records)."""
    with span("demo.verify"), psycopg.connect(endpoint.conninfo) as conn:
        valid = conn.execute(
            "SELECT (SELECT count(*) FROM financial_transactions WHERE transaction_id LIKE %(tx)s)"
            " + (SELECT count(*) FROM insurance_claims WHERE claim_id LIKE %(ic)s)",
            {"tx": f"TX-{run_id}-%", "ic": f"IC-{run_id}-%"},
        ).fetchone()
        invalid = conn.execute(
            "SELECT (SELECT count(*) FROM financial_transactions WHERE transaction_id LIKE %(bad)s)"
            " + (SELECT count(*) FROM insurance_claims WHERE claim_id LIKE %(bad)s)",
            {"bad": f"BAD-{run_id}-%"},
        ).fetchone()
    return int(valid[0] if valid else 0), int(invalid[0] if invalid else 0)


def slo_checks(env: Environment, burst: BurstResult) -> list[tuple[str, str, str, bool]]:
    """(measure, objective, measured, met) for the ingest SLO of the environment."""
    slo = env.spec.slos.get(INGEST_SLO)
    if slo is None:
        return []
    from ops.campaign.results import check_slo

    p95, p99 = percentile(burst.latencies_ms, 95), percentile(burst.latencies_ms, 99)
    return check_slo(slo, p95, p99, burst.error_rate, burst.throughput_rps)


def write_demo_report(folder: Path, inventory: Inventory, outcome: DemoOutcome) -> ReportPaths:
    burst = outcome.burst
    buckets = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000]
    labels = [f"<={b}" for b in buckets] + [">1000"]
    counts = [0] * (len(buckets) + 1)
    for latency in burst.latencies_ms:
        counts[next((i for i, b in enumerate(buckets) if latency <= b), len(buckets))] += 1
    traffic = Section(
        "Ingest traffic",
        ("measure", "value"),
        [
            ("records sent", str(burst.sent)),
            ("accepted", str(burst.accepted)),
            ("stored in PostgreSQL", str(outcome.stored)),
            ("invalid records rejected with 4xx", str(burst.rejected_as_expected)),
            ("invalid records stored", str(outcome.stored_invalid)),
            ("failed (5xx or no answer)", str(burst.failed)),
            ("throughput", f"{burst.throughput_rps:.0f} req/s"),
            (
                "p50 / p95 / p99",
                " / ".join(f"{percentile(burst.latencies_ms, q):.1f} ms" for q in (50, 95, 99)),
            ),
        ],
        chart_svg=bar_chart(labels, [float(c) for c in counts], "requests by latency (ms)"),
    )
    sections = [traffic]
    if outcome.kafka is not None:
        flow = outcome.kafka
        sections.append(
            Section(
                "Through Kafka (ingest -> primary cluster -> MirrorMaker 2 -> DR; loader -> PostgreSQL)",
                ("measure", "value"),
                [
                    ("produced by the ingest service", str(flow["produced"])),
                    ("acknowledged by the brokers (answered 2xx)", str(flow["acknowledged"])),
                    *(
                        (f"replicator {name}: records DR lacks", str(lag))
                        for name, lag in sorted(flow["replication_lag"].items())
                    ),
                    ("loaded into PostgreSQL", str(flow["loaded"])),
                    ("redelivered (already stored, not written twice)", str(flow["redelivered"])),
                ],
            )
        )
    if outcome.observability is not None:
        observed = outcome.observability
        sections.append(
            Section(
                "Observability as code (alarms, log groups, Container Insights)",
                ("step", "result"),
                [
                    ("first plan", ", ".join(f"{n} {a}" for a, n in observed.planned.items() if n)),
                    ("applied", f"{observed.applied} changes, {observed.failed} failed"),
                    (
                        "second plan",
                        f"{observed.second_plan_pending} changes of {observed.resources} resources",
                    ),
                ],
            )
        )
    if outcome.pitr is not None:
        pitr = outcome.pitr
        sections.append(
            Section(
                "Point-in-time recovery under traffic (rds-pitr, with cutover)",
                ("output", "value"),
                [
                    ("target time", human.moment(str(pitr["TargetTime"]))),
                    ("recovery point (latest commit restored)", human.moment(pitr["RecoveryPoint"])),
                    ("RTO: run start to cutover", human.seconds(pitr["RecoveryTime"])),
                    ("RPO: commits after the recovery point", human.seconds(pitr["RPOSeconds"])),
                    *(
                        (f"rows verified in {table} (count and checksum)", str(rows))
                        for table, rows in (pitr["RowsVerified"] or {}).items()
                    ),
                    ("restored database", str(pitr["RestoredIdentifier"])),
                ],
            )
        )
    if outcome.database_failover is not None:
        db = outcome.database_failover
        lost = db["LostCommits"] or {}
        sections.append(
            Section(
                "Database writer failover under traffic (aurora-failover: a streaming replica promoted)",
                ("output", "value"),
                [
                    ("old writer -> new writer", f"{db['OldWriter']} -> {db['NewWriter']}"),
                    ("RTO: run start to cutover", human.seconds(db["RecoveryTime"])),
                    ("RPO measured from the rows", human.seconds(db["RPOSeconds"])),
                    (
                        "commits lost (acknowledged by the old writer, not on the new)",
                        str(sum(lost.values())),
                    ),
                    ("records acknowledged during the move", str(db["acknowledged"])),
                    ("acknowledged records not in the new writer", str(db["lost"])),
                    ("the clients' longest gap", f"{db['client_longest_gap_s']} s"),
                    ("run report", str(db["report"])),
                ],
            )
        )
    if outcome.failover is not None:
        moved = outcome.failover
        rows: list[tuple[str, ...]] = []
        for runbook in ("msk-failover", "msk-failback"):
            out = moved[runbook]
            rows.append(
                (
                    runbook,
                    f"{out['WriteUnavailableSeconds']} s (clients: {out['client_longest_gap_s']} s)",
                    f"{out['ConsumerPauseSeconds']} s",
                    str(sum((out.get("ExpectedRereads") or {}).values())),
                    str(out["DuplicatesDelivered"]),
                    str(out["StoredTwice"]),
                )
            )
        sections.append(
            Section(
                f"MSK failover and failback under traffic: {moved['acknowledged']} records acknowledged, "
                f"{moved['stored']} stored, {moved['lost']} lost",
                (
                    "run",
                    "write unavailability",
                    "consumers paused",
                    "re-reads expected",
                    "duplicates",
                    "stored twice",
                ),
                rows,
            )
        )
    if outcome.campaign is not None:
        sections.append(
            Section(
                f"Load-test campaign smoke: {outcome.campaign['requests']} requests, "
                f"{outcome.campaign['throughput_rps']} req/s (Locust, 2 workers)",
                ("measure", "objective", "measured", "met"),
                [
                    (c["measure"], c["objective"], c["measured"], "yes" if c["met"] else "NO")
                    for c in outcome.campaign["slo"]
                ],
            )
        )
    if outcome.readiness is not None:
        ready = outcome.readiness
        sections.append(
            Section(
                "DR readiness (`ops dr assess --env local`)",
                ("component", "verdict", "why"),
                [
                    (
                        name,
                        verdict,
                        "; ".join(ready["reasons"][name]) or "mechanisms in place; a drill met them",
                    )
                    for name, verdict in sorted(ready["verdicts"].items())
                ],
            )
        )
    slos = Section(
        "Ingest SLO (local environment)",
        ("measure", "objective", "measured", "met"),
        [(m, o, v, "yes" if ok else "NO") for m, o, v, ok in outcome.slo_checks],
    )
    data = {
        "run_id": outcome.run_id,
        "inventory": {"file": inventory.source, "environments": sorted(inventory.environments)},
        "traffic": {
            "sent": burst.sent,
            "accepted": burst.accepted,
            "duplicates": burst.duplicates,
            "failed": burst.failed,
            "rejected_as_expected": burst.rejected_as_expected,
            "wrongly_accepted": burst.wrongly_accepted,
            "duration_s": round(burst.duration_s, 3),
            "throughput_rps": round(burst.throughput_rps, 1),
            "latency_ms": {f"p{q}": round(percentile(burst.latencies_ms, q), 2) for q in (50, 95, 99)},
        },
        "stored": outcome.stored,
        "stored_invalid": outcome.stored_invalid,
        "data_ok": outcome.data_ok,
        "slo": checks_payload(outcome.slo_checks),
        "slo_met": outcome.slo_met,
    }
    if outcome.observability is not None:
        data["observability"] = outcome.observability.__dict__
    if outcome.pitr is not None:
        data["pitr"] = outcome.pitr
    if outcome.failover is not None:
        data["msk_failover"] = outcome.failover
    if outcome.database_failover is not None:
        data["database_failover"] = outcome.database_failover
    if outcome.readiness is not None:
        data["readiness"] = outcome.readiness
    if outcome.campaign is not None:
        data["campaign"] = outcome.campaign
    if outcome.kafka is not None:
        data["kafka"] = outcome.kafka
    from ops.demo.verdict import demo_links, demo_verdict

    return write_report(
        folder,
        f"platform-ops demo {outcome.run_id}",
        data,
        [*sections, slos],
        verdict=demo_verdict(outcome),
        links=demo_links(folder, outcome),
    )
