"""rds-pitr's AWS provider against the emulator as a server over HTTP: every captured
setting re-applied, the SSM cutover, the rename swap, and a dry run that changes nothing.

The emulator's instances have no database behind them: for the SQL data checks, two real
PostgreSQL servers stand in for the source and the restored instances, reached through
OPS_DB_ADDRESSES as an operator reaches RDS through a port-forward."""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from ops.aws.clients import ClientFactory
from ops.local.postgres import LocalPostgres
from ops.runbook.waits import WaitHistory
from ops.util.ports import free_port
from ops.util.processes import wait_until
from tests.helpers import Result, run_cli
from tests.integration.conftest import emulator_server

SOURCE = "dataplat-staging-warehouse"
PARAMETER = "/dataplat/staging/warehouse/endpoint"
CHECK_SECRET = "dataplat/staging/warehouse/checks"
CHECK_PASSWORD = "checks-password-never-journaled"
ROWS = {"financial_transactions": ("transaction_id", 40), "insurance_claims": ("claim_id", 15)}


def _stand_ins(short_tmp: Path) -> list[LocalPostgres]:
    """The source and restored stand-ins, in a folder of their own: every module that
    seeds an AWS environment starts its own pair, in the session's one short folder."""
    folder = Path(tempfile.mkdtemp(prefix="pg-", dir=short_tmp))
    return [_stand_in(folder / "source-db"), _stand_in(folder / "restored-db")]


def _stand_in(root: Path) -> LocalPostgres:
    """A PostgreSQL server with the checked tables and the same rows, committed now."""
    server = LocalPostgres(root, free_port())
    server.init()
    server.start()
    server.ensure_database("warehouse")
    with psycopg.connect(server.conninfo("warehouse"), autocommit=True) as conn:
        for table, (key, count) in ROWS.items():
            conn.execute(f"CREATE TABLE {table} ({key} text PRIMARY KEY, amount numeric)")
            conn.execute(
                f"INSERT INTO {table} SELECT 'k-' || i, i FROM generate_series(1, %s) AS i", (count,)
            )
    return server


@pytest.fixture(scope="module")
def emulator(short_tmp: Path) -> Iterator[tuple[ClientFactory, dict[str, str]]]:
    servers: list[LocalPostgres] = []
    try:
        with emulator_server(short_tmp) as (factory, env):
            servers += [*_stand_ins(short_tmp)]
            yield _seed(factory, env, *servers)
    finally:
        for server in servers:
            server.stop()


def _seed(
    factory: ClientFactory, env: dict[str, str], source_db: LocalPostgres, restored_db: LocalPostgres
) -> tuple[ClientFactory, dict[str, str]]:
    rds = factory.client("rds")
    rds.create_db_parameter_group(
        DBParameterGroupName="warehouse-pg16",
        DBParameterGroupFamily="postgres16",
        Description="warehouse",
    )
    rds.create_db_instance(
        DBInstanceIdentifier=SOURCE,
        Engine="postgres",
        DBInstanceClass="db.r6g.large",
        AllocatedStorage=200,
        MasterUsername="postgres",
        MasterUserPassword="not-a-real-secret",
        BackupRetentionPeriod=7,
        MultiAZ=True,
        DeletionProtection=True,
        DBParameterGroupName="warehouse-pg16",
        VpcSecurityGroupIds=["sg-0123456789abcdef0"],
        Tags=[{"Key": "team", "Value": "data"}],
    )
    endpoint = {"host": f"{SOURCE}.example", "port": 5432, "dbname": "warehouse", "user": "ingest"}
    factory.client("ssm").put_parameter(Name=PARAMETER, Value=json.dumps(endpoint), Type="String")
    factory.client("secretsmanager").create_secret(
        Name=CHECK_SECRET, SecretString=json.dumps({"username": "postgres", "password": CHECK_PASSWORD})
    )
    for severity in ("critical", "warning", "info"):  # where runs are announced
        factory.client("sns").create_topic(Name=f"dataplat-staging-alerts-{severity}")
    env = {
        **env,
        # The sources (by their identifiers) on one server, every restored instance on the other.
        "OPS_DB_ADDRESSES": f"{SOURCE}=127.0.0.1:{source_db.port},"
        f"dataplat-staging-lakehouse=127.0.0.1:{source_db.port},*=127.0.0.1:{restored_db.port}",
        "PGSSLMODE": "disable",  # the stand-ins have no certificate
        "OPS_TEST_RESTORED_DB": restored_db.conninfo("warehouse"),
    }
    return factory, env


def _pitr(
    env: dict[str, str],
    *params: str,
    inventory: Path | None = None,
    execute: bool = True,
    json_output: bool = True,
) -> Result:
    """`ops [--inventory F] runbook run rds-pitr --env staging [--execute] -p P... [-o json]`."""
    head = ["--inventory", str(inventory)] if inventory else []
    flags = ["--execute"] if execute else []
    output = ["-o", "json"] if json_output else []
    return run_cli(
        *head,
        "runbook",
        "run",
        "rds-pitr",
        "--env",
        "staging",
        *flags,
        *(arg for param in params for arg in ("-p", param)),
        *output,
        env=env,
    )


def _instances(factory: ClientFactory) -> dict[str, dict[str, object]]:
    return {
        i["DBInstanceIdentifier"]: i for i in factory.client("rds").describe_db_instances()["DBInstances"]
    }


def _restorable_from(factory: ClientFactory, cluster: str | None) -> datetime:
    """The source's earliest restorable moment, as the runbook reads it."""
    rds = factory.client("rds")
    moment: datetime
    if cluster:
        moment = rds.describe_db_clusters(DBClusterIdentifier=cluster)["DBClusters"][0][
            "EarliestRestorableTime"
        ]
    else:
        (source,) = rds.describe_db_instances(DBInstanceIdentifier=SOURCE)["DBInstances"]
        moment = source.get("EarliestRestorableTime") or source["InstanceCreateTime"]
    return moment


def _target(factory: ClientFactory, seconds_ago: float = 0.5, cluster: str | None = None) -> str:
    """A target time `seconds_ago` before now, once that is more than a second past the
    source's creation (a rename swap makes the source new); waits for that moment if needed."""
    ready = _restorable_from(factory, cluster) + timedelta(seconds=1 + seconds_ago)
    wait_until(lambda: datetime.now(UTC) > ready, 10, "the clock past the source's creation")
    return (datetime.now(UTC) - timedelta(seconds=seconds_ago)).isoformat()


def test_a_dry_run_makes_no_change(emulator: tuple[ClientFactory, dict[str, str]]) -> None:
    factory, env = emulator
    before = _instances(factory)
    result = run_cli(
        "runbook", "run", "rds-pitr", "--env", "staging", "-p", f"target_time={_target(factory)}", env=env
    )
    assert result.code == 0, result.err
    assert "dry run: would rds:RestoreDBInstanceToPointInTime" in result.out
    assert set(_instances(factory)) == set(before)


def test_a_restore_carries_every_setting_and_the_parameter_moves(
    emulator: tuple[ClientFactory, dict[str, str]],
) -> None:
    factory, env = emulator
    result = _pitr(env, f"target_time={_target(factory)}")
    assert result.code == 0, result.err
    restored_id = json.loads(result.out)["outputs"]["RestoredIdentifier"]
    restored = _instances(factory)[restored_id]
    assert restored["DBInstanceClass"] == "db.r6g.large" and restored["MultiAZ"] is True
    assert restored["DeletionProtection"] is True
    assert restored["DBParameterGroups"][0]["DBParameterGroupName"] == "warehouse-pg16"  # type: ignore[index]
    assert [g["VpcSecurityGroupId"] for g in restored["VpcSecurityGroups"]] == ["sg-0123456789abcdef0"]  # type: ignore[attr-defined]
    tags = {t["Key"]: t["Value"] for t in restored["TagList"]}  # type: ignore[attr-defined]
    assert tags["team"] == "data" and tags["platform-ops:environment"] == "staging"
    value = json.loads(factory.client("ssm").get_parameter(Name=PARAMETER)["Parameter"]["Value"])
    assert value["host"] == restored["Endpoint"]["Address"]  # type: ignore[index]
    assert value["dbname"] == "warehouse" and value["user"] == "ingest"  # kept from the old value
    # The wait learned how long a restore of this size took: the next one polls by it.
    history = WaitHistory(Path(env["OPS_STATE_DIR"]) / "waits" / "history.jsonl")
    size = f"postgres/db.r6g.large/{restored['AllocatedStorage']}"
    assert len(history.durations("rds-instance restore available", size)) >= 1


def test_the_rename_swap_puts_the_restored_instance_under_the_original_name(
    emulator: tuple[ClientFactory, dict[str, str]],
) -> None:
    factory, env = emulator
    result = _pitr(env, f"target_time={_target(factory)}", "cutover_mode=rename")
    assert result.code == 0, result.err
    run = json.loads(result.out)
    instances = _instances(factory)
    serving = {t["Key"]: t["Value"] for t in instances[SOURCE]["TagList"]}  # type: ignore[attr-defined]
    assert serving["platform-ops:run-id"] == run["run_id"]
    old = [name for name in instances if name.startswith(f"{SOURCE}-old-")]
    assert len(old) == 1 and "platform-ops:run-id" not in {t["Key"] for t in instances[old[0]]["TagList"]}  # type: ignore[attr-defined]


def test_an_existing_target_identifier_is_refused(emulator: tuple[ClientFactory, dict[str, str]]) -> None:
    factory, env = emulator
    existing = f"{SOURCE}-pitr-taken"
    if existing not in _instances(factory):
        factory.client("rds").create_db_instance(
            DBInstanceIdentifier=existing,
            Engine="postgres",
            DBInstanceClass="db.t4g.micro",
            AllocatedStorage=20,
        )
    before = set(_instances(factory))
    result = _pitr(env, f"target_time={_target(factory)}", f"target_identifier={existing}", json_output=False)
    assert result.code == 2 and "exists already" in result.err
    assert set(_instances(factory)) == before


def _staging_inventory(tmp_path: Path, old: str, new: str) -> Path:
    from tests.helpers import INVENTORY

    text = INVENTORY.read_text()
    assert old in text
    path = tmp_path / "platform.yaml"
    path.write_text(text.replace(old, new, 1))
    return path


def test_a_route53_cutover_repoints_the_cname(
    emulator: tuple[ClientFactory, dict[str, str]], tmp_path: Path
) -> None:
    factory, env = emulator
    route53 = factory.client("route53")
    zone = route53.create_hosted_zone(Name="db.internal", CallerReference="pitr-test")["HostedZone"]["Id"]
    record = {
        "Name": "warehouse.db.internal",
        "Type": "CNAME",
        "TTL": 30,
        "ResourceRecords": [{"Value": "old.example"}],
    }
    route53.change_resource_record_sets(
        HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": record}]}
    )
    inventory = _staging_inventory(
        tmp_path,
        "      identifier: warehouse\n",
        "      identifier: warehouse\n      dns: {zone: db.internal, record: warehouse.db.internal}\n",
    )
    result = _pitr(env, f"target_time={_target(factory)}", "cutover_mode=route53", inventory=inventory)
    assert result.code == 0, result.err
    restored = _instances(factory)[json.loads(result.out)["outputs"]["RestoredIdentifier"]]
    (cname,) = route53.list_resource_record_sets(
        HostedZoneId=zone, StartRecordName="warehouse.db.internal.", StartRecordType="CNAME", MaxItems="1"
    )["ResourceRecordSets"]
    assert cname["ResourceRecords"] == [{"Value": restored["Endpoint"]["Address"]}]  # type: ignore[index]


def test_an_aurora_cluster_is_restored_with_its_settings_and_a_writer(
    emulator: tuple[ClientFactory, dict[str, str]], tmp_path: Path
) -> None:
    factory, env = emulator
    rds = factory.client("rds")
    rds.create_db_cluster(
        DBClusterIdentifier="dataplat-staging-lakehouse",
        Engine="aurora-postgresql",
        EngineVersion="16.4",
        MasterUsername="postgres",
        MasterUserPassword="not-a-real-secret",
        BackupRetentionPeriod=7,
        DeletionProtection=True,
        VpcSecurityGroupIds=["sg-0aurora"],
        Tags=[{"Key": "team", "Value": "data"}],
    )
    rds.create_db_instance(
        DBInstanceIdentifier="dataplat-staging-lakehouse-1",
        DBClusterIdentifier="dataplat-staging-lakehouse",
        Engine="aurora-postgresql",
        DBInstanceClass="db.r6g.xlarge",
    )
    inventory = (
        _staging_inventory(tmp_path, "      engine: postgres\n", "      engine: aurora-postgresql\n")
        .read_text()
        .replace("      identifier: warehouse\n", "      identifier: lakehouse\n", 1)
    )
    (tmp_path / "platform.yaml").write_text(inventory)
    target = _target(factory, cluster="dataplat-staging-lakehouse")
    result = _pitr(env, f"target_time={target}", inventory=tmp_path / "platform.yaml")
    assert result.code == 0, result.err
    restored_id = json.loads(result.out)["outputs"]["RestoredIdentifier"]
    (cluster,) = rds.describe_db_clusters(DBClusterIdentifier=restored_id)["DBClusters"]
    assert cluster["DeletionProtection"] is True
    assert [g["VpcSecurityGroupId"] for g in cluster["VpcSecurityGroups"]] == ["sg-0aurora"]
    assert {"Key": "team", "Value": "data"} in cluster["TagList"]
    writer = _instances(factory)[f"{restored_id}-1"]
    assert writer["DBInstanceClass"] == "db.r6g.xlarge"
    value = json.loads(factory.client("ssm").get_parameter(Name=PARAMETER)["Parameter"]["Value"])
    assert value["host"] == cluster["Endpoint"]


def _settings_inventory(tmp_path: Path) -> Path:
    return _staging_inventory(
        tmp_path,
        "  staging:\n    provider: aws\n",
        "  staging:\n    provider: aws\n    runbook_settings: {lock_table: dataplat-staging-runbook-locks,\n"
        "                       journal_bucket: dataplat-staging-runbook-journals}\n",
    )


def _lock_table(factory: ClientFactory) -> None:
    dynamodb = factory.client("dynamodb")
    if "dataplat-staging-runbook-locks" not in dynamodb.list_tables()["TableNames"]:
        dynamodb.create_table(
            TableName="dataplat-staging-runbook-locks",
            KeySchema=[{"AttributeName": "target", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "target", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        factory.client("s3").create_bucket(Bucket="dataplat-staging-runbook-journals")


def test_on_aws_the_journal_is_copied_to_s3_and_the_lock_lives_in_dynamodb(
    emulator: tuple[ClientFactory, dict[str, str]], tmp_path: Path
) -> None:
    factory, env = emulator
    _lock_table(factory)
    inventory = _settings_inventory(tmp_path)
    result = _pitr(env, f"target_time={_target(factory)}", inventory=inventory, execute=False)
    assert result.code == 0, result.err
    run_id = json.loads(result.out)["run_id"]
    key = f"dataplat-staging/runs/{run_id}/journal.jsonl"
    copy = factory.client("s3").get_object(Bucket="dataplat-staging-runbook-journals", Key=key)["Body"].read()
    local = (Path(env["OPS_STATE_DIR"]) / "runs" / run_id / "journal.jsonl").read_bytes()
    assert copy == local and b'"run-completed"' in copy
    held = factory.client("dynamodb").get_item(
        TableName="dataplat-staging-runbook-locks", Key={"target": {"S": "dataplat-staging-warehouse"}}
    )
    assert "Item" not in held  # released at the end


def test_a_live_dynamodb_lock_refuses_and_an_expired_one_is_taken_over(
    emulator: tuple[ClientFactory, dict[str, str]], tmp_path: Path
) -> None:
    factory, env = emulator
    _lock_table(factory)
    inventory = _settings_inventory(tmp_path)
    dynamodb = factory.client("dynamodb")

    def hold(expires_in: int) -> None:
        dynamodb.put_item(
            TableName="dataplat-staging-runbook-locks",
            Item={
                "target": {"S": "dataplat-staging-warehouse"},
                "run_id": {"S": "someone-else"},
                "since": {"S": "earlier"},
                "expires_at": {"N": str(int(time.time()) + expires_in)},
            },
        )

    args = ("--inventory", str(inventory), "runbook", "run", "rds-pitr", "--env", "staging")
    hold(3600)
    refused = run_cli(*args, "-p", f"target_time={_target(factory)}", env=env)
    assert refused.code == 2 and "locked by run someone-else" in refused.err
    hold(-60)
    taken = run_cli(*args, "-p", f"target_time={_target(factory)}", env=env)
    assert taken.code == 0, taken.err


def test_a_drill_on_aws_restores_then_deletes_its_scratch_instance(
    emulator: tuple[ClientFactory, dict[str, str]],
) -> None:
    factory, env = emulator
    _target(factory, 0)  # a drill restores to now
    before = set(_instances(factory))
    result = run_cli("drill", "run", "rds-pitr", "--env", "staging", "-o", "json", env=env)
    assert result.code == 0, result.err
    drill = json.loads(result.out)
    assert drill["success"] and drill["objectives_met"]
    assert set(_instances(factory)) == before  # the scratch instance is gone
    metrics = factory.client("cloudwatch").list_metrics(Namespace="PlatformOps/Drills")["Metrics"]
    assert {"Name": "Environment", "Value": "staging"} in metrics[0]["Dimensions"]


def test_the_restored_rows_are_checked_by_sql_and_the_password_stays_out(
    emulator: tuple[ClientFactory, dict[str, str]],
) -> None:
    factory, env = emulator
    result = _pitr(env, "cutover=false", f"target_time={_target(factory)}")
    assert result.code == 0, result.err
    run = json.loads(result.out)
    assert run["outputs"]["RowsVerified"] == {table: count for table, (_, count) in ROWS.items()}
    keys = ",".join(sorted(f"k-{i}" for i in range(1, 41)))
    journal = (Path(env["OPS_STATE_DIR"]) / "runs" / run["run_id"] / "journal.jsonl").read_text()
    assert hashlib.md5(keys.encode()).hexdigest() in journal  # the checksum SQL computed
    assert CHECK_PASSWORD not in journal and CHECK_PASSWORD not in result.out


def test_a_restore_with_a_row_after_the_target_fails_validation_and_is_removed(
    emulator: tuple[ClientFactory, dict[str, str]],
) -> None:
    factory, env = emulator
    target = _target(factory, 0)
    before = set(_instances(factory))
    parameter = factory.client("ssm").get_parameter(Name=PARAMETER)["Parameter"]["Value"]
    with psycopg.connect(env["OPS_TEST_RESTORED_DB"], autocommit=True) as conn:
        conn.execute("INSERT INTO insurance_claims VALUES ('late', 1)")  # committed after the target
    try:
        result = _pitr(env, f"target_time={target}", json_output=False)
    finally:
        with psycopg.connect(env["OPS_TEST_RESTORED_DB"], autocommit=True) as conn:
            conn.execute("DELETE FROM insurance_claims WHERE claim_id = 'late'")
    assert result.code == 1
    assert "insurance_claims: 16 rows restored, 15 committed by the target time" in result.err
    assert "after the target" in result.err
    assert set(_instances(factory)) == before  # rolled back: the restored instance is deleted
    assert factory.client("ssm").get_parameter(Name=PARAMETER)["Parameter"]["Value"] == parameter


def test_an_unreachable_source_or_a_missing_secret_stops_the_preflight(
    emulator: tuple[ClientFactory, dict[str, str]], tmp_path: Path
) -> None:
    factory, env = emulator
    before = set(_instances(factory))
    closed = f"{SOURCE}=127.0.0.1:{free_port()}"
    target = f"target_time={_target(factory)}"
    args = ("runbook", "run", "rds-pitr", "--env", "staging", "--execute", "-p", target)
    unreachable = run_cli(*args, env={**env, "OPS_DB_ADDRESSES": closed})
    assert unreachable.code == 1 and f"cannot reach {SOURCE} at 127.0.0.1:" in unreachable.err
    assert len(unreachable.err.strip().splitlines()) == 1
    inventory = _staging_inventory(tmp_path, "      check_secret: warehouse/checks\n", "")
    no_secret = run_cli("--inventory", str(inventory), *args, env=env)
    assert no_secret.code == 2 and "components.warehouse.check_secret: not set" in no_secret.err
    bad_map = run_cli(*args, env={**env, "OPS_DB_ADDRESSES": "warehouse"})
    assert bad_map.code == 2 and "OPS_DB_ADDRESSES: 'warehouse' is not IDENTIFIER=HOST:PORT" in bad_map.err
    assert set(_instances(factory)) == before


def test_a_secret_cutover_keeps_the_password_out_of_the_journal_and_stops_the_old(
    emulator: tuple[ClientFactory, dict[str, str]],
) -> None:
    factory, env = emulator
    secrets = factory.client("secretsmanager")
    password = "s3cret-never-journaled"
    secret = {"host": "old.example", "port": 5432, "username": "ingest", "password": password}
    secrets.create_secret(Name="dataplat/staging/warehouse/credentials", SecretString=json.dumps(secret))
    try:
        result = _pitr(env, f"target_time={_target(factory)}", "cutover_mode=secret", "old_instance=stop")
        assert result.code == 0, result.err
        assert _instances(factory)[SOURCE]["DBInstanceStatus"] == "stopped"
    finally:  # the other cases restore from the source: it runs again
        if _instances(factory)[SOURCE]["DBInstanceStatus"] == "stopped":
            factory.client("rds").start_db_instance(DBInstanceIdentifier=SOURCE)
    run = json.loads(result.out)
    restored = _instances(factory)[run["outputs"]["RestoredIdentifier"]]
    value = json.loads(
        secrets.get_secret_value(SecretId="dataplat/staging/warehouse/credentials")["SecretString"]
    )
    assert value["host"] == restored["Endpoint"]["Address"] and value["password"] == password  # type: ignore[index]
    journal = (Path(env["OPS_STATE_DIR"]) / "runs" / run["run_id"] / "journal.jsonl").read_text()
    assert password not in journal and password not in result.out
