"""Start-up stays light: commands that make no AWS call, run no load test and touch no
database do not import the libraries that do (they cost a person waiting most of a second).

No duration is asserted (bench/startup.py measures them): the test lists the modules a real
`ops` process imported, from Python's own `-X importtime` report."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.helpers import INVENTORY, REPO

HEAVY = (
    "boto3",
    "botocore",
    "locust",
    "psycopg",
    "opentelemetry.sdk",
    "grafana_client",
    "fastapi",
    "moto",
    "policy_sentry",
    "parliament",
)


def imported_modules(*args: str) -> set[str]:
    """Every module `ops <args>` imported, after checking that the command succeeded."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_EXPORTER_OTLP")}
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "ops", *args],
        capture_output=True,
        text=True,
        env={**env, "COLUMNS": "200"},
        cwd=REPO,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    report = [line for line in completed.stderr.splitlines() if line.startswith("import time:")]
    errors = [line for line in completed.stderr.splitlines() if not line.startswith("import time:")]
    assert completed.returncode == 0, "\n".join(errors)
    # "import time: <self us> | <cumulative us> | <indented module name>", after a header line
    return {line.rsplit("|", 1)[1].strip() for line in report[1:]}


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(f"{h}.") for h in HEAVY))


@pytest.mark.parametrize(
    "args",
    [("--help",), ("inventory", "validate", "--file", str(INVENTORY))],
    ids=["help", "inventory-validate"],
)
def test_light_commands_import_no_aws_sdk_load_test_or_database_client(args: tuple[str, ...]) -> None:
    assert heavy(imported_modules(*args)) == []


def test_the_audit_sees_a_heavy_import() -> None:
    """The audit itself works: the module list is complete enough to catch one."""
    assert heavy({"ops", "botocore.exceptions", "opentelemetry.trace", "opentelemetry.sdk"}) == [
        "botocore.exceptions",
        "opentelemetry.sdk",
    ]
