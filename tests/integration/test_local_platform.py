"""`ops local up | status | down` against the real parts: the emulator as a server over
HTTP, a real PostgreSQL with WAL archiving, and the real ingest service."""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import unquote

import httpx
import psutil
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ops.errors import ExitCode
from ops.util.processes import wait_until
from tests.helpers import run_cli
from tests.integration.conftest import RunningPlatform, alive

TX = {
    "transaction_id": "it-tx-1",
    "timestamp": "2026-11-26T10:00:00Z",
    "account_id": "ACC-1",
    "amount": "12.50",
    "currency": "EUR",
    "transaction_type": "payment",
}


def _serves(platform: RunningPlatform, database_suffix: str) -> bool:
    """The ingest service writes to the database whose name ends with `database_suffix`."""
    health = httpx.get(f"{platform.ingest_url}/health").json()
    return str(health.get("database", "")).endswith(database_suffix)


def _records_ingested(platform: RunningPlatform) -> float:
    """The ingest service's own count of the records it received (its Prometheus counter)."""
    text = httpx.get(f"{platform.ingest_url}/metrics/").text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "ingest_records"
        for sample in family.samples
        if sample.name == "ingest_records_total"
    )


def _rows(platform: RunningPlatform, sql: str, *args: object) -> list[tuple[object, ...]]:
    with psycopg.connect(platform.pg_conninfo) as conn:
        return conn.execute(sql, args).fetchall()


def test_up_twice_is_harmless(platform: RunningPlatform) -> None:
    before = sorted(platform.pids())
    result = run_cli("local", "up", env=platform.env)
    assert result.code == 0, result.err
    assert sorted(platform.pids()) == before  # nothing restarted, nothing duplicated


def test_status_shows_every_part_healthy(platform: RunningPlatform) -> None:
    result = run_cli("local", "status", "--output", "json", env=platform.env)
    assert result.code == 0, result.err
    parts = {p["name"]: p for p in json.loads(result.out)["parts"]}
    assert set(parts) == {"emulator", "postgres", "postgres (reader: reader-1)", "ingest"}
    assert all(p["healthy"] for p in parts.values())
    assert parts["ingest"]["address"] == platform.ingest_url
    assert parts["postgres (reader: reader-1)"]["detail"].startswith("streaming from postgres")


def test_the_warehouse_reader_streams_what_the_primary_commits(platform: RunningPlatform) -> None:
    """The inventory's `readers: 1` locally: a hot standby of the primary (what
    aurora-failover promotes), read-only, holding a row moments after its commit."""
    readers: list[dict[str, object]] = platform.record["readers"]  # type: ignore[assignment]
    (reader,) = readers
    reader_conninfo = f"host=127.0.0.1 port={reader['port']} user=postgres dbname=warehouse"
    marker = f"reader-{time.time_ns()}"
    with psycopg.connect(platform.pg_conninfo, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS reader_probe (marker text)")
        conn.execute("INSERT INTO reader_probe VALUES (%s)", (marker,))

    def replicated() -> bool:
        with psycopg.connect(reader_conninfo) as conn:
            found = conn.execute("SELECT to_regclass('reader_probe') IS NOT NULL").fetchone()
            if not (found and found[0]):
                return False
            return (
                conn.execute("SELECT 1 FROM reader_probe WHERE marker = %s", (marker,)).fetchone() is not None
            )

    wait_until(replicated, 30, "the row on the reader")
    with psycopg.connect(reader_conninfo) as conn, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        conn.execute("INSERT INTO reader_probe VALUES ('written on a reader')")


def test_the_emulator_answers_boto3_over_http_with_the_seeded_resources(platform: RunningPlatform) -> None:
    aws = platform.aws()
    buckets = {b["Name"] for b in aws.client("s3").list_buckets()["Buckets"]}
    assert {
        "dataplat-local-lake-raw",
        "dataplat-local-lake-processed",
        "dataplat-local-lake-curated",
    } <= buckets
    tags = aws.client("s3").get_bucket_tagging(Bucket="dataplat-local-lake-raw")["TagSet"]
    assert {"Key": "platform-ops:environment", "Value": "local"} in tags
    (db,) = aws.client("rds").describe_db_instances(DBInstanceIdentifier="dataplat-local-warehouse")[
        "DBInstances"
    ]
    assert db["BackupRetentionPeriod"] == 7 and db["DBInstanceStatus"] == "available"
    assert [
        c["ClusterName"] for c in aws.client("kafka", "us-west-2").list_clusters_v2()["ClusterInfoList"]
    ] == ["dataplat-local-events-dr"]
    (cluster,) = aws.client("ecs").describe_clusters(
        clusters=["dataplat-local-platform"], include=["SETTINGS"]
    )["clusters"]
    assert {"name": "containerInsights", "value": "enabled"} in cluster["settings"]
    topics = {t["TopicArn"].rsplit(":", 1)[1] for t in aws.client("sns").list_topics()["Topics"]}
    assert {"dataplat-local-alerts-critical", "dataplat-local-alerts-warning"} <= topics


def test_the_endpoint_parameter_points_at_the_real_database(platform: RunningPlatform) -> None:
    value = (
        platform.aws()
        .client("ssm")
        .get_parameter(Name="/dataplat/local/warehouse/endpoint")["Parameter"]["Value"]
    )
    endpoint = json.loads(value)
    assert endpoint["port"] == platform.record["postgres_port"]
    assert endpoint["dbname"] == "warehouse"
    assert "password" not in value


def test_postgres_archives_wal_and_has_a_base_backup(platform: RunningPlatform) -> None:
    with psycopg.connect(platform.pg_conninfo, autocommit=True) as conn:
        assert conn.execute("SHOW archive_mode").fetchone() == ("on",)
        assert conn.execute("SHOW track_commit_timestamp").fetchone() == ("on",)
        # Write something first: switching an empty segment archives nothing.
        conn.execute("CREATE TABLE IF NOT EXISTS wal_probe (at timestamptz)")
        conn.execute("INSERT INTO wal_probe VALUES (now())")
        segment = conn.execute("SELECT pg_walfile_name(pg_current_wal_lsn())").fetchone()[0]  # type: ignore[index]
        conn.execute("SELECT pg_switch_wal()")
    archive = platform.state_dir / "postgres" / "wal-archive"
    wait_until((archive / segment).exists, 30, f"WAL segment {segment} in the archive")
    backups = list((platform.state_dir / "postgres" / "base-backups").iterdir())
    assert len(backups) == 1
    assert (backups[0] / "backup_label").exists() and (backups[0] / "PG_VERSION").exists()


def test_the_ingest_service_persists_what_it_accepts(platform: RunningPlatform) -> None:
    response = httpx.post(f"{platform.ingest_url}/ingest-financial-transaction/", json=TX)
    assert response.status_code == 200
    assert response.json()["outcome"] == "accepted"
    ((amount, currency, committed),) = _rows(
        platform,
        "SELECT amount, currency, pg_xact_commit_timestamp(xmin) FROM financial_transactions"
        " WHERE transaction_id = %s",
        "it-tx-1",
    )
    assert str(amount) == "12.50" and currency == "EUR" and committed is not None


def test_a_repeated_record_is_stored_once(platform: RunningPlatform) -> None:
    httpx.post(
        f"{platform.ingest_url}/ingest-financial-transaction/", json={**TX, "transaction_id": "it-dup"}
    )
    again = httpx.post(
        f"{platform.ingest_url}/ingest-financial-transaction/", json={**TX, "transaction_id": "it-dup"}
    )
    assert again.status_code == 200 and again.json()["outcome"] == "duplicate"
    assert _rows(
        platform, "SELECT count(*) FROM financial_transactions WHERE transaction_id = %s", "it-dup"
    ) == [(1,)]


def test_a_bad_payload_is_rejected_with_4xx_and_nothing_stored(platform: RunningPlatform) -> None:
    claim = {"claim_id": "it-bad-claim", "timestamp": "2026-11-26T10:00:00Z", "claim_amount": "-1"}
    response = httpx.post(f"{platform.ingest_url}/ingest-insurance-claim/", json=claim)
    assert response.status_code == 422
    assert _rows(platform, "SELECT count(*) FROM insurance_claims WHERE claim_id = %s", "it-bad-claim") == [
        (0,)
    ]
    not_json = httpx.post(
        f"{platform.ingest_url}/ingest-insurance-claim/",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert not_json.status_code == 422


def test_metrics_count_what_happened(platform: RunningPlatform) -> None:
    before = _rejected_claims(platform)
    for _ in range(2):
        bad = httpx.post(f"{platform.ingest_url}/ingest-insurance-claim/", json={"claim_amount": "-1"})
        assert bad.status_code == 422
    assert _rejected_claims(platform) == before + 2
    stored = httpx.post(
        f"{platform.ingest_url}/ingest-financial-transaction/", json={**TX, "transaction_id": "it-metrics"}
    )
    assert stored.status_code == 200  # a record persisted is timed
    assert "ingest_request_duration_seconds_bucket" in httpx.get(f"{platform.ingest_url}/metrics/").text


def _rejected_claims(platform: RunningPlatform) -> float:
    """The ingest service's count of insurance claims it rejected (0 before the first)."""
    text = httpx.get(f"{platform.ingest_url}/metrics/").text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "ingest_records_total"
        and sample.labels == {"outcome": "rejected", "record_type": "insurance_claim"}
    )


def test_rewriting_the_endpoint_parameter_moves_the_service(platform: RunningPlatform) -> None:
    with psycopg.connect(platform.pg_conninfo, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS warehouse_moved")
        conn.execute("CREATE DATABASE warehouse_moved")
    ssm = platform.aws().client("ssm")
    name = "/dataplat/local/warehouse/endpoint"
    original = ssm.get_parameter(Name=name)["Parameter"]["Value"]
    moved = {**json.loads(original), "dbname": "warehouse_moved"}
    ssm.put_parameter(Name=name, Value=json.dumps(moved), Type="String", Overwrite=True)
    try:
        wait_until(lambda: _serves(platform, "/warehouse_moved"), 20, "the service moving")
        response = httpx.post(
            f"{platform.ingest_url}/ingest-financial-transaction/", json={**TX, "transaction_id": "it-moved"}
        )
        assert response.status_code == 200
        moved_conn = platform.pg_conninfo.replace("dbname=warehouse", "dbname=warehouse_moved")
        with psycopg.connect(moved_conn) as conn:
            assert conn.execute(
                "SELECT count(*) FROM financial_transactions WHERE transaction_id = 'it-moved'"
            ).fetchone() == (1,)
    finally:
        ssm.put_parameter(Name=name, Value=original, Type="String", Overwrite=True)
        wait_until(lambda: _serves(platform, "/warehouse"), 20, "the service moving back")


def test_the_demo_runs_end_to_end_and_writes_its_report(short_tmp: Path) -> None:
    """From nothing, as `make demo` on a new machine (its cutover moves the warehouse: the
    module's platform is left alone)."""
    state = {"OPS_STATE_DIR": str(short_tmp / "demo")}
    try:
        # Kafka, a PITR, a failover and failback, a campaign: minutes on a busy machine.
        result = run_cli("demo", "--records", "120", env=state, timeout=900)
        jvms = _jvms_of(short_tmp / "demo")
    finally:
        down = run_cli("local", "down", env=state)
    # Exit 4 is an objective missed: the SLOs are latency and throughput, which a test does
    # not assert (a busy 2-core machine runs the other tests beside it); the data must hold.
    assert result.code in (0, ExitCode.OBJECTIVE_MISSED), result.out + result.err
    # The platform ran Kafka (four brokers and MirrorMaker 2); `down` leaves no JVM.
    assert len(jvms) == 5 and down.code == 0, (jvms, down.err)
    wait_until(lambda: not _jvms_of(short_tmp / "demo"), 30, "every JVM gone")
    reports = sorted((short_tmp / "demo" / "reports").glob("demo-*"))
    data = json.loads((reports[-1] / "report.json").read_text())
    assert data["traffic"]["sent"] == 120
    assert data["stored"] == data["traffic"]["accepted"] == 120
    assert data["stored_invalid"] == 0 and data["traffic"]["rejected_as_expected"] == 6
    assert data["observability"]["applied"] > 80 and data["observability"]["failed"] == 0
    assert data["observability"]["second_plan_pending"] == 0
    # ADOT: the three collectors' configurations and the gateway's task definition are in place.
    assert data["observability"]["by_kind"]["collector-config"] == 3
    assert data["observability"]["by_kind"]["collector-task"] == 1
    assert data["pitr"]["RecoveryTime"] > 0 and data["pitr"]["RPOSeconds"] >= 0
    assert sum(data["pitr"]["RowsVerified"].values()) > 0
    assert data["campaign"]["requests"] > 100 and isinstance(data["campaign"]["slo_met"], bool)
    assert data["data_ok"] is True
    assert (result.code == 0) == (data["slo_met"] is True)  # exit 4 only for a missed objective
    assert (reports[-1] / "report.html").read_text().count("<svg") == 1
    assert "Observability as code" in (reports[-1] / "report.md").read_text()
    assert "| accepted | 120 |" in (reports[-1] / "report.md").read_text()
    # Through Kafka: every accepted record produced, acknowledged, replicated and loaded.
    flow = data["kafka"]
    assert flow["acknowledged"] >= 120 and flow["loaded"] >= 120
    assert flow["replication_lag"] == {"events_replicator": 0}
    # The MSK failover and failback under traffic: nothing acknowledged lost, nothing twice.
    moved = data["msk_failover"]
    assert moved["acknowledged"] > 0 and moved["lost"] == 0, moved["lost_ids"]
    assert moved["msk-failover"]["ActiveCluster"] == "events_dr"
    assert moved["msk-failback"]["ActiveCluster"] == "events"
    for runbook in ("msk-failover", "msk-failback"):
        assert moved[runbook]["StoredTwice"] == 0 and moved[runbook]["WriteUnavailableSeconds"] > 0
    # The database's writer failed over to its reader under traffic: nothing lost, measured.
    database = data["database_failover"]
    assert database["status"] == "completed" and database["RPOMeasured"] is True
    assert database["OldWriter"] != database["NewWriter"] and database["NewWriter"].startswith("reader-")
    assert database["acknowledged"] > 0 and database["lost"] == 0
    assert sum(database["LostCommits"].values()) == 0 and database["RPOSeconds"] == 0
    # The readiness of the local environment, one verdict per stateful component.
    assert set(data["readiness"]["verdicts"]) == {"warehouse", "events", "lake"}
    assert Path(data["readiness"]["report"]).exists()
    _check_demo_report_in_a_browser(reports[-1] / "report.html")


def _check_demo_report_in_a_browser(report: Path) -> None:
    """The demo's report as a reader opens it: its verdict first, its chart, and a link to
    each part's report (each run's, the campaign's, the readiness) that resolves."""
    from tests.browser import browser, chromium_binary
    from tests.integration.test_reports_browser import check_report

    if chromium_binary() is None:
        return  # `make test` installs it; the report's files were checked above
    with browser() as page:
        check_report(page, report, "demo-report", charts=1)
        links = page.evaluate("Array.from(document.querySelectorAll('.links a')).map(a => a.href)")
        texts = page.evaluate("Array.from(document.querySelectorAll('.links a')).map(a => a.textContent)")
    assert {"point-in-time recovery run", "database failover run", "DR readiness"} <= set(texts), texts
    for link in links:
        assert link.startswith("file://") and Path(unquote(link.removeprefix("file://"))).exists(), link


def _jvms_of(state_dir: Path) -> list[int]:
    """The JVMs (Kafka brokers, MirrorMaker 2) whose command line names this state folder."""
    return [
        process.info["pid"]
        for process in psutil.process_iter(["pid", "name", "cmdline"])
        if "java" in (process.info["name"] or "")
        and str(state_dir) in " ".join(process.info["cmdline"] or [])
    ]


def test_a_cloud_environment_is_refused_with_one_line(platform: RunningPlatform) -> None:
    result = run_cli("local", "up", "--env", "prod", env=platform.env)
    assert result.code == 2
    assert len(result.err.strip().splitlines()) == 1 and "provider" in result.err


def test_sigterm_stops_a_command_with_exit_130_and_one_line(platform: RunningPlatform) -> None:
    import os
    import signal
    import subprocess
    import sys

    from tests.helpers import REPO

    process = subprocess.Popen(
        [sys.executable, "-m", "ops", "demo", "--records", "20000"],
        cwd=REPO,
        env={**os.environ, **platform.env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    before = _records_ingested(platform)
    for line in process.stdout:
        if line.startswith("2/"):  # the platform is up; the traffic starts
            break
    wait_until(lambda: _records_ingested(platform) > before, 30, "the demo's traffic")
    assert process.poll() is None, "the demo ended before it could be interrupted"
    process.send_signal(signal.SIGTERM)
    # The burst's requests in flight finish first (each within its 10 s timeout): on a
    # machine busy with the Kafka tests beside it, that can take longer than 30 s.
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert err.strip().splitlines() == ["error: interrupted"]


def test_json_logs_are_one_object_a_line_with_trace_ids(platform: RunningPlatform) -> None:
    result = run_cli("--log-format", "json", "--log-level", "info", "local", "up", env=platform.env)
    assert result.code == 0, result.err
    entries = [json.loads(line) for line in result.err.strip().splitlines()]
    messages = [e["message"] for e in entries]
    assert any(m.startswith("emulator: already running") for m in messages)
    assert {e["level"] for e in entries} == {"info"}
    assert len({e["trace_id"] for e in entries}) == 1  # one command, one trace


def test_down_leaves_no_process_behind(own_platform: RunningPlatform) -> None:
    pids = own_platform.pids()
    assert len(pids) == 3 and all(alive(pid) for pid in pids)
    result = run_cli("local", "down", env=own_platform.env)
    assert result.code == 0, result.err
    assert not any(alive(pid) for pid in pids)
    status = run_cli("local", "status", env=own_platform.env)
    assert status.code == 1  # every part stopped
