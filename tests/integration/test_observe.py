"""`ops observe` against the emulator as a server: apply, a clean second plan, one update
for one changed threshold, drift, prune, ownership, and bad overrides that make no call."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from alarms import alarm_catalog
from ops.inventory import load_environment
from ops.kinds.registry import kind_of
from tests.helpers import INVENTORY, run_cli
from tests.integration.conftest import RunningPlatform

PREFIX = "dataplat-local-"
CPU = "dataplat-local-warehouse-cpu-warning"
LOCAL_WAREHOUSE = "      warehouse: {instance_class: db.t4g.micro,"


def _inventory(tmp_path: Path, alarms: str = "", replace: tuple[str, str] | None = None) -> Path:
    text = INVENTORY.read_text()
    if alarms:
        text = text.replace(
            LOCAL_WAREHOUSE,
            f"      warehouse: {{alarms: {alarms},\n                  instance_class: db.t4g.micro,",
        )
    if replace:
        assert replace[0] in text
        text = text.replace(*replace)
    path = tmp_path / "platform.yaml"
    path.write_text(text)
    return path


def _observe(
    platform: RunningPlatform,
    *args: str,
    inventory: Path | None = None,
    extra_env: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any], str]:
    """`ops observe ARGS --output json`: the exit code, the parsed JSON, the error stream."""
    head = ["--inventory", str(inventory)] if inventory else []
    env = {**platform.env, **(extra_env or {})}
    result = run_cli(*head, "observe", *args, "--output", "json", env=env)
    return result.code, (json.loads(result.out) if result.out.strip() else {}), result.err


def _alarms(platform: RunningPlatform, region: str = "us-east-1") -> dict[str, dict[str, object]]:
    cloudwatch = platform.aws().client("cloudwatch", region)
    pages = cloudwatch.get_paginator("describe_alarms").paginate(AlarmNamePrefix=PREFIX)
    return {a["AlarmName"]: a for page in pages for a in page["MetricAlarms"]}


@pytest.fixture
def applied(platform: RunningPlatform) -> RunningPlatform:
    """The module's platform with the shipped inventory applied (whatever an earlier test
    changed): a test that reads or changes applied resources starts from the same place."""
    code, _, err = _observe(platform, "apply")
    assert code == 0, err
    return platform


def test_apply_creates_every_alarm_of_the_inventory(own_platform: RunningPlatform) -> None:
    """On a platform of its own: the first apply, from nothing."""
    code, outcome, err = _observe(own_platform, "apply", "--only", "alarm", "--stats")
    assert code == 0, err
    env = load_environment("local", INVENTORY)
    expected = {a.name(env.prefix): (a.region or env.region) for a in alarm_catalog(env)}
    found = set(_alarms(own_platform)) | set(_alarms(own_platform, "us-west-2"))
    assert found == set(expected)
    assert {n for n, r in expected.items() if r == "us-west-2"} == set(_alarms(own_platform, "us-west-2"))
    arn = _alarms(own_platform)[CPU]["AlarmArn"]
    tags = {
        t["Key"]: t["Value"]
        for t in own_platform.aws().client("cloudwatch").list_tags_for_resource(ResourceARN=arn)["Tags"]
    }
    assert tags["platform-ops:environment"] == "local" and tags["platform-ops:kind"] == "alarm"
    assert len(tags["platform-ops:fingerprint"]) == 16
    assert outcome["stats"]["calls"]["cloudwatch:PutMetricAlarm"] == len(expected)


def test_a_second_plan_is_clean(applied: RunningPlatform) -> None:
    result = run_cli("observe", "plan", "--env", "local", "--detailed-exitcode", env=applied.env)
    assert result.code == 0, result.out + result.err
    assert "0 to create, 0 to update, 0 to delete" in result.out
    # The emulator lacks the composite alarms' write: left out, and said so.
    assert "note: not planned: composite alarms (the emulator has no PutCompositeAlarm)" in result.out


def test_the_plan_reads_in_batches(applied: RunningPlatform) -> None:
    code, plan, _ = _observe(applied, "plan", "--only", "alarm", "--stats")
    calls = plan["stats"]["calls"]
    assert code == 0
    assert calls["cloudwatch:DescribeAlarms"] <= 4  # 90 alarms: a call per 100 names and region
    assert "cloudwatch:ListTagsForResource" not in calls  # ownership comes from the tagging API


def test_a_changed_threshold_plans_exactly_one_update(applied: RunningPlatform, tmp_path: Path) -> None:
    inventory = _inventory(tmp_path, alarms="{cpu: {threshold: 80}}")
    code, plan, err = _observe(applied, "plan", "--detailed-exitcode", "--only", "alarm", inventory=inventory)
    assert code == 3, err
    (change,) = plan["changes"]
    assert (change["name"], change["action"], change["reason"]) == (CPU, "update", "the code changed")
    assert change["fields"] == [{"path": "Threshold", "before": 90.0, "after": 80.0}]


def test_an_alarm_edited_out_of_band_shows_as_drift_and_apply_restores_it(applied: RunningPlatform) -> None:
    alarm = _alarms(applied)[CPU]
    keys = ("AlarmName", "Namespace", "MetricName", "Dimensions", "Statistic", "Period")
    edited = {k: alarm[k] for k in (*keys, "EvaluationPeriods", "ComparisonOperator", "AlarmActions")}
    applied.aws().client("cloudwatch").put_metric_alarm(**edited, Threshold=99.0)
    code, drift, _ = _observe(applied, "drift", "--detailed-exitcode")
    assert code == 3
    (change,) = drift["drifted"]
    assert change["name"] == CPU and "out of band" in change["reason"]
    assert {"path": "Threshold", "before": 99.0, "after": 90.0} in change["fields"]
    assert _observe(applied, "apply")[0] == 0
    assert _observe(applied, "drift", "--detailed-exitcode")[0] == 0
    assert _alarms(applied)[CPU]["Threshold"] == 90.0


def test_an_alarm_removed_from_the_code_is_pruned(applied: RunningPlatform, tmp_path: Path) -> None:
    inventory = _inventory(tmp_path, alarms="{replica-lag: {enabled: false}}")
    code, plan, _ = _observe(applied, "plan", "--detailed-exitcode", "--only", "alarm", inventory=inventory)
    assert code == 3
    assert [(c["name"], c["action"]) for c in plan["changes"]] == [
        ("dataplat-local-warehouse-replica-lag-warning", "delete")
    ]
    assert _observe(applied, "apply", inventory=inventory)[0] == 0
    assert "dataplat-local-warehouse-replica-lag-warning" not in _alarms(applied)
    assert _observe(applied, "apply")[0] == 0  # back again with the shipped inventory
    assert "dataplat-local-warehouse-replica-lag-warning" in _alarms(applied)


def test_an_alarm_without_our_ownership_is_never_touched(applied: RunningPlatform) -> None:
    cloudwatch = applied.aws().client("cloudwatch")
    theirs = "dataplat-local-warehouse-connections-warning"  # a name we want, but not ours
    arn = _alarms(applied)[theirs]["AlarmArn"]
    cloudwatch.delete_alarms(AlarmNames=[theirs])
    # The emulator keeps a deleted alarm's tags (AWS does not): drop them as AWS would.
    tags = cloudwatch.list_tags_for_resource(ResourceARN=arn)["Tags"]
    cloudwatch.untag_resource(ResourceARN=arn, TagKeys=[t["Key"] for t in tags])
    manual = {
        **{"Namespace": "AWS/RDS", "MetricName": "CPUUtilization", "Statistic": "Average", "Period": 60},
        **{"EvaluationPeriods": 1, "Threshold": 1.0, "ComparisonOperator": "GreaterThanThreshold"},
    }
    cloudwatch.put_metric_alarm(AlarmName=theirs, **manual)
    cloudwatch.put_metric_alarm(AlarmName="dataplat-local-made-by-hand", **manual)
    try:
        code, plan, _ = _observe(applied, "plan")
        assert code == 0
        changes = {c["name"]: c for c in plan["changes"]}
        assert changes[theirs]["action"] == "skip" and "without our ownership" in changes[theirs]["reason"]
        assert "dataplat-local-made-by-hand" not in changes
        assert _observe(applied, "apply")[0] == 0
        alarms = _alarms(applied)
        assert alarms[theirs]["Threshold"] == 1.0
        assert alarms["dataplat-local-made-by-hand"]["Threshold"] == 1.0
    finally:  # the hand-made alarms go; the next apply makes ours again
        cloudwatch.delete_alarms(AlarmNames=[theirs, "dataplat-local-made-by-hand"])


def _emulator_requests(platform: RunningPlatform) -> int:
    return (platform.state_dir / "logs" / "emulator.log").read_text().count(' HTTP/1.1"')


@pytest.mark.parametrize(
    ("alarms", "replace", "field"),
    [
        ("{cpuu: {threshold: 80}}", None, "alarms.cpuu"),  # unknown metric
        ("{cpu: {threshold: -5}}", None, "alarms.cpu.threshold"),  # negative threshold
        ("{cpu: {severity: pager}}", None, "alarms.cpu.severity"),  # unknown SNS topic
        ("", ("      events: {broker_count: 3,", "      event: {broker_count: 3,"), "components.event"),
    ],
)
def test_bad_overrides_exit_2_with_one_line_and_no_aws_call(
    platform: RunningPlatform, tmp_path: Path, alarms: str, replace: tuple[str, str] | None, field: str
) -> None:
    inventory = _inventory(tmp_path, alarms=alarms, replace=replace)
    before = _emulator_requests(platform)
    result = run_cli("--inventory", str(inventory), "observe", "plan", "--stats", env=platform.env)
    assert result.code == 2
    (line,) = result.err.strip().splitlines()
    assert line.startswith(f"error: {inventory}:") and field in line
    assert _emulator_requests(platform) == before


LAUGHS = "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 9) if p else ', '.join(['lol'] * 9)}]\n"
    for p, n in zip([None, *"abcdefgh"], "abcdefghi", strict=True)
)


@pytest.mark.parametrize(
    ("alarms", "replace", "field"),
    [
        ("{cpu: {threshold: .inf}}", None, "alarms.cpu.threshold"),  # not finite
        ("{cpu: {threshold: 1e400}}", None, "alarms.cpu.threshold"),
        (
            "",
            ("platform: dataplat\n", "platform: dataplat-" + "x" * 50 + "\n"),
            "function_name",
        ),  # too long for AWS
        (
            "",
            (
                "    events_dr:\n",
                '    "évènements/ü x":\n      kind: lambda\n      function_name: fx\n'
                "      produces_to: {cluster: events, topic: raw_financial_transactions}\n    events_dr:\n",
            ),
            "components",
        ),
        ("", ("  region: us-east-1\n", "  region: us-east-11\n"), "base.region"),
        ("", ("version: 1\n", f"version: 1\n{LAUGHS}"), "yaml: more than 100,000 values"),
    ],
)
def test_hostile_inventories_change_nothing_in_the_emulator(
    platform: RunningPlatform, tmp_path: Path, alarms: str, replace: tuple[str, str] | None, field: str
) -> None:
    """Issue 15's families against `observe apply` (the command that would change most): exit
    2, one line, and not one request reaches the emulator."""
    inventory = _inventory(tmp_path, alarms=alarms, replace=replace)
    before = _emulator_requests(platform)
    result = run_cli("--inventory", str(inventory), "observe", "apply", "--auto-approve", env=platform.env)
    assert result.code == 2, result.err
    lines = result.err.strip().splitlines()
    assert lines and all(line.startswith(f"error: {inventory}:") for line in lines), lines
    assert field in lines[0] and "Traceback" not in result.err
    assert _emulator_requests(platform) == before


def test_a_protected_environment_is_not_applied_without_approval(
    applied: RunningPlatform, tmp_path: Path
) -> None:
    inventory = _inventory(
        tmp_path,
        alarms="{cpu: {threshold: 70}}",
        replace=("    provider: local\n    protected: false\n", "    provider: local\n    protected: true\n"),
    )
    refused = run_cli("--inventory", str(inventory), "observe", "apply", env=applied.env)
    assert refused.code == 2
    assert "protected" in refused.err and "--auto-approve" in refused.err
    assert _alarms(applied)[CPU]["Threshold"] == 90.0  # nothing changed
    approved = run_cli("--inventory", str(inventory), "observe", "apply", "--auto-approve", env=applied.env)
    assert approved.code == 0, approved.err
    assert _alarms(applied)[CPU]["Threshold"] == 70.0
    assert _observe(applied, "apply")[0] == 0  # back to the shipped inventory


def test_an_unknown_kind_is_bad_input(platform: RunningPlatform) -> None:
    result = run_cli("observe", "plan", "--only", "dashboards", env=platform.env)
    assert result.code == 2
    assert result.err.strip() == (
        "error: --only 'dashboards': not a kind "
        "(kinds: event-rule, alarm, composite-alarm, log-group, container-insights, collector-config, "
        "collector-task, cloudwatch-dashboard, grafana-dashboard)"
    )


def test_container_insights_turned_off_out_of_band_is_turned_back_on(platform: RunningPlatform) -> None:
    ecs = platform.aws().client("ecs")
    ecs.update_cluster(
        cluster="dataplat-local-platform", settings=[{"name": "containerInsights", "value": "disabled"}]
    )
    code, plan, _ = _observe(platform, "plan", "--only", "container-insights", "--detailed-exitcode")
    assert code == 3
    (change,) = plan["changes"]
    assert change["fields"] == [{"path": "containerInsights", "before": "disabled", "after": "enabled"}]
    assert _observe(platform, "apply", "--only", "container-insights")[0] == 0
    (cluster,) = ecs.describe_clusters(clusters=["dataplat-local-platform"], include=["SETTINGS"])["clusters"]
    assert {"name": "containerInsights", "value": "enabled"} in cluster["settings"]


def test_log_retention_follows_the_inventory(applied: RunningPlatform, tmp_path: Path) -> None:
    inventory = _inventory(
        tmp_path, replace=("    provider: local\n", "    provider: local\n    logs: {retention_days: 7}\n")
    )
    code, plan, _ = _observe(applied, "plan", "--only", "log-group", inventory=inventory)
    updates = [c for c in plan["changes"] if c["action"] == "update"]
    env = load_environment("local", INVENTORY)
    groups = [g for n, c in env.spec.components.items() for g in kind_of(c).log_groups(env, n, c)]
    assert code == 0 and len(updates) == len(groups) == 18  # every log group of the environment
    assert all(c["fields"] == [{"path": "retentionInDays", "before": 30, "after": 7}] for c in updates)
    assert _observe(applied, "apply", "--only", "log-group", inventory=inventory)[0] == 0
    groups = (
        applied.aws().client("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/dataplat-local-")
    )
    assert {g["retentionInDays"] for g in groups["logGroups"]} == {7}


def _collector_tasks(platform: RunningPlatform) -> list[str]:
    ecs = platform.aws().client("ecs")
    arns: list[str] = ecs.list_task_definitions(familyPrefix="dataplat-local-gateway", status="ACTIVE")[
        "taskDefinitionArns"
    ]
    return arns


def test_collector_configurations_and_the_gateway_task_are_provisioned_and_kept(
    platform: RunningPlatform, tmp_path: Path
) -> None:
    """ADOT: SSM parameters with each collector's configuration (valid by `ops adot validate`),
    the gateway's task definition taking it by valueFrom; drift, a new revision, a prune."""
    kinds = ("--only", "collector-config", "--only", "collector-task")
    assert _observe(platform, "apply", *kinds)[0] == 0
    ssm = platform.aws().client("ssm")
    gateway = ssm.get_parameter(Name="/dataplat/local/adot/gateway")["Parameter"]
    assert "memory_limiter" in gateway["Value"] and "prometheusremotewrite" in gateway["Value"]
    described = platform.aws().client("ecs").describe_task_definition(taskDefinition="dataplat-local-gateway")
    (container,) = described["taskDefinition"]["containerDefinitions"]
    secrets = {s["name"]: s["valueFrom"] for s in container["secrets"]}
    assert secrets["AOT_CONFIG_CONTENT"].endswith(":parameter/dataplat/local/adot/gateway")
    assert _observe(platform, "plan", "--detailed-exitcode", *kinds)[0] == 0  # a clean second plan
    # Out of band: someone edits the gateway's configuration in the console.
    ssm.put_parameter(Name="/dataplat/local/adot/gateway", Value="receivers: {}\n", Overwrite=True)
    code, drift, _ = _observe(platform, "drift", "--detailed-exitcode", *kinds)
    assert code == 3 and [c["name"] for c in drift["drifted"]] == ["/dataplat/local/adot/gateway"]
    revisions = len(_collector_tasks(platform))
    ssm.put_parameter(
        Name="/dataplat/local/adot-image", Value="amazon/aws-otel-collector:v0.44.0", Overwrite=True
    )
    code, plan, _ = _observe(platform, "plan", "--detailed-exitcode", *kinds)
    actions = {(c["name"], c["action"]) for c in plan["changes"]}
    assert actions == {("/dataplat/local/adot/gateway", "update"), ("dataplat-local-gateway", "update")}
    assert _observe(platform, "apply", *kinds)[0] == 0
    assert len(_collector_tasks(platform)) == revisions + 1  # a new revision, the old kept for rollback
    assert ssm.get_parameter(Name="/dataplat/local/adot/gateway")["Parameter"]["Value"] == gateway["Value"]
    # A collector removed from the inventory: its parameter is deleted, its task deregistered.
    inventory = _inventory(tmp_path, replace=("        - {name: gateway, mode: gateway}\n", ""))
    code, plan, _ = _observe(platform, "apply", *kinds, inventory=inventory)
    assert code == 0, plan
    assert not ssm.get_parameters(Names=["/dataplat/local/adot/gateway"])["Parameters"]
    assert _collector_tasks(platform) == []
    assert _observe(platform, "apply", *kinds)[0] == 0  # back with the shipped inventory


def _dashboards(platform: RunningPlatform) -> set[str]:
    listed = platform.aws().client("cloudwatch").list_dashboards(DashboardNamePrefix="dataplat-local-")
    return {d["DashboardName"] for d in listed["DashboardEntries"]}


def test_cloudwatch_dashboards_are_applied_kept_pruned_and_never_taken(
    platform: RunningPlatform, tmp_path: Path
) -> None:
    """One dashboard per component plus the ingest overview, from the alarms: apply, a clean
    second plan, drift, prune, and a dashboard someone else made is left alone."""
    kind = ("--only", "cloudwatch-dashboard")
    assert _observe(platform, "apply", *kind)[0] == 0
    cloudwatch = platform.aws().client("cloudwatch")
    names = _dashboards(platform)
    assert {"dataplat-local-ingest-overview", "dataplat-local-warehouse", "dataplat-local-events"} <= names
    body = json.loads(cloudwatch.get_dashboard(DashboardName="dataplat-local-warehouse")["DashboardBody"])
    (alarm_widget,) = [w for w in body["widgets"] if w["type"] == "alarm"]
    assert f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{CPU}" in alarm_widget["properties"]["alarms"]
    cpu = next(w for w in body["widgets"] if w["type"] == "metric" and w["properties"]["title"] == "cpu")
    assert cpu["properties"]["annotations"]["horizontal"][0]["value"] == 90.0  # the alarm's threshold
    assert _observe(platform, "plan", "--detailed-exitcode", *kind)[0] == 0
    # Out of band: a widget removed in the console (the marker kept).
    edited = {**body, "widgets": [w for w in body["widgets"] if w is not cpu]}
    cloudwatch.put_dashboard(DashboardName="dataplat-local-warehouse", DashboardBody=json.dumps(edited))
    code, drift, _ = _observe(platform, "drift", "--detailed-exitcode", *kind)
    assert code == 3 and [c["name"] for c in drift["drifted"]] == ["dataplat-local-warehouse"]
    assert _observe(platform, "apply", *kind)[0] == 0
    # Someone's own dashboard under our prefix: never touched, never pruned.
    cloudwatch.put_dashboard(DashboardName="dataplat-local-mine", DashboardBody=json.dumps({"widgets": []}))
    # A component removed from the inventory: its dashboard is pruned.
    inventory = _inventory(tmp_path, replace=(LOCAL_WAREHOUSE, "      airflow: null\n" + LOCAL_WAREHOUSE))
    code, plan, err = _observe(platform, "plan", *kind, inventory=inventory)
    assert code == 0, err
    actions = {(c["name"], c["action"]) for c in plan["changes"]}
    assert ("dataplat-local-airflow", "delete") in actions
    assert not [name for name, action in actions if name == "dataplat-local-mine" and action != "skip"]
    assert _observe(platform, "apply", *kind, inventory=inventory)[0] == 0
    names = _dashboards(platform)
    assert "dataplat-local-airflow" not in names and "dataplat-local-mine" in names
    assert _observe(platform, "apply", *kind)[0] == 0  # back with the shipped inventory


def test_grafana_dashboards_apply_clean_plan_drift_prune_and_a_412_is_reported(
    platform: RunningPlatform, tmp_path: Path
) -> None:
    """Against the Grafana-compatible test double: a folder per platform and environment,
    deterministic uids, a clean second plan, drift that ignores id and version, prune, a
    stranger's dashboard left alone, and a concurrent edit (412) reported, not overwritten."""
    from tests.integration.grafana_double import grafana_double

    kind = ("--only", "grafana-dashboard")
    with grafana_double("test-token") as (grafana, url):
        grafana_env = {"OPS_GRAFANA_URL": url, "OPS_GRAFANA_TOKEN": "test-token"}

        def observe(*args: str, inventory: Path | None = None) -> tuple[int, dict[str, Any], str]:
            return _observe(platform, *args, *kind, inventory=inventory, extra_env=grafana_env)

        # A title taken in our folder by someone else's dashboard: 412 name-exists, theirs untouched.
        theirs = {"uid": "theirs", "title": "dataplat-local warehouse (rds)", "tags": []}
        grafana.save(theirs, "pops-dataplat-local", overwrite=False)
        code, applied, _ = observe("apply")
        assert code == 1 and "name-exists" in json.dumps(applied)
        assert grafana.dashboards["theirs"]["model"] == {
            **theirs,
            "version": 1,
            "id": grafana.dashboards["theirs"]["model"]["id"],
        }
        del grafana.dashboards["theirs"]
        code, applied, err = observe("apply")
        assert code == 0, err
        assert set(grafana.folders) == {"pops-dataplat-local"}
        uids = set(grafana.dashboards)
        assert {"pops-dataplat-local-ingest-overview", "pops-dataplat-local-warehouse"} <= uids
        warehouse = grafana.dashboards["pops-dataplat-local-warehouse"]
        assert (
            warehouse["folderUid"] == "pops-dataplat-local" and "platform-ops" in warehouse["model"]["tags"]
        )
        assert observe("plan", "--detailed-exitcode")[0] == 0  # clean, though Grafana bumped id and version
        # Out of band: a panel retitled in Grafana's UI (a save bumps the version).
        model = json.loads(json.dumps(warehouse["model"]))
        model["panels"][0]["title"] = "renamed in the UI"
        grafana.save(model, "pops-dataplat-local", overwrite=True)
        code, drift, _ = observe("drift", "--detailed-exitcode")
        assert code == 3 and [c["name"] for c in drift["drifted"]] == ["pops-dataplat-local-warehouse"]
        # A concurrent edit between our read and our write: Grafana answers 412, nothing is overwritten.
        grafana.save_after_read = "pops-dataplat-local-warehouse"
        code, applied, err = observe("apply")
        assert code == 1 and "version-mismatch" in json.dumps(applied)
        assert (
            grafana.dashboards["pops-dataplat-local-warehouse"]["model"]["panels"][0]["title"]
            == "renamed in the UI"
        )
        assert observe("apply")[0] == 0  # planned again: applied
        assert observe("plan", "--detailed-exitcode")[0] == 0
        # A stranger's dashboard in our folder and one with our title elsewhere are never touched.
        grafana.save(
            {"uid": "someone-else", "title": "mine", "tags": []}, "pops-dataplat-local", overwrite=False
        )
        # A component removed from the inventory: its dashboard is deleted.
        inventory = _inventory(tmp_path, replace=(LOCAL_WAREHOUSE, "      airflow: null\n" + LOCAL_WAREHOUSE))
        assert observe("apply", inventory=inventory)[0] == 0
        assert (
            "pops-dataplat-local-airflow" not in grafana.dashboards and "someone-else" in grafana.dashboards
        )
        assert observe("apply")[0] == 0
    # Without a Grafana URL (and no Managed Grafana locally): not planned, and said so.
    code, plan, _ = _observe(platform, "plan", *kind)
    assert code == 0 and any("not planned: Grafana dashboards" in n for n in plan["notes"])
