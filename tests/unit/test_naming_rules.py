"""AWS's naming rules on the names the toolkit derives (issue 15): checked at validation on
the final name, each refusal naming the inventory field that made it."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops.kinds.naming import RULES, rule_problem
from tests.helpers import INVENTORY, run_main


@pytest.mark.parametrize(
    ("rule", "name", "says"),
    [
        ("rds", "a" * 64, "has at most 63"),
        ("rds", "dataplat--warehouse", "two hyphens in a row"),
        ("rds", "dataplat-warehouse-", "ends with a hyphen"),
        ("rds", "1dataplat", "starting with a letter"),
        ("s3", "Dataplat-Raw", "lower-case"),
        ("s3", "ab", "3 or more"),
        ("s3", "data..raw", "two dots in a row"),
        ("s3", "192.168.1.10", "IP address"),
        ("s3", "xn--dataplat", "prefix or suffix S3 reserves"),
        ("msk", "events_dr", "letters, digits, hyphens"),
        ("lambda", "f" * 65, "at most 64"),
        ("alarm", "cpu\x01high", "no control characters"),
        ("log_group", "/dataplat/évènements", "letters, digits"),
        ("ssm", "/dataplat/a b", "letters, digits"),
        ("dynamodb", "ab", "3 or more"),
        ("sns", "alerts.critical", "letters, digits, - and _"),
    ],
)
def test_each_rule_refuses_what_the_service_refuses(rule: str, name: str, says: str) -> None:
    problem = rule_problem(RULES[rule], name)
    assert problem is not None and says in problem, problem


@pytest.mark.parametrize(
    ("rule", "name"),
    [
        ("rds", "dataplat-prod-warehouse-pitr-20261231235959"),
        ("s3", "dataplat-prod-raw.v2"),
        ("msk", "dataplat-prod-events-dr"),
        ("alarm", "dataplat-prod-events-under-min-isr-broker-3-critical"),
        ("log_group", "/aws/lambda/dataplat-prod-ingest_financial"),
        ("ssm", "/dataplat/prod/events/endpoint"),
    ],
)
def test_names_aws_takes_pass(rule: str, name: str) -> None:
    assert rule_problem(RULES[rule], name) is None


def _validate(tmp_path: Path, old: str, new: str) -> list[str]:
    text = INVENTORY.read_text()
    assert old in text, old
    file = tmp_path / "platform.yaml"
    file.write_text(text.replace(old, new, 1))
    result = run_main("inventory", "validate", "--file", str(file))
    assert result.code == 2, result.err
    assert "Traceback" not in result.err
    lines = result.err.strip().splitlines()
    assert all(line.startswith(f"error: {file}:") for line in lines), lines
    return lines


def test_a_platform_name_that_pushes_names_past_their_limit_names_each_field_once(tmp_path: Path) -> None:
    lines = _validate(tmp_path, "platform: dataplat\n", "platform: dataplat-" + "x" * 40 + "\n")
    # The base's fields, once each (not once per environment), the length and the limit said.
    assert any(
        ": base.components.ingest_financial.function_name: " in line and "at most 64" in line
        for line in lines
    )
    assert any(": base.components.warehouse.identifier: " in line and "at most 63" in line for line in lines)
    paths = [line.split(": ")[1] for line in lines]
    assert len(paths) == len(set(paths))


def test_an_environment_name_that_leaves_no_room_for_a_restored_copy_is_refused(tmp_path: Path) -> None:
    """The warehouse's own identifier fits; `<it>-pitr-<time>`, the copy rds-pitr makes, would not."""
    lines = _validate(tmp_path, "\n  staging:\n", "\n  staging-" + "s" * 20 + ":\n")
    restored = [line for line in lines if "-pitr-" in line]
    assert restored and "an RDS or Aurora identifier has at most 63" in restored[0], lines


def test_a_component_name_that_cannot_be_part_of_aws_names_is_refused(tmp_path: Path) -> None:
    lines = _validate(
        tmp_path,
        "    events_dr:\n",
        '    "évènements/ü x":\n      kind: lambda\n      function_name: fx\n'
        "      produces_to: {cluster: events, topic: raw_financial_transactions}\n    events_dr:\n",
    )
    assert any("a component name is lower-case letters, digits and underscores" in line for line in lines)
