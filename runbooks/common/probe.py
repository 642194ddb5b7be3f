"""The probe record a runbook's post-check sends through the ingest path: a financial
transaction of one cent, named after the run, that the check then looks for in the
warehouse."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg

from ops.contracts import FINANCIAL_PATH
from ops.errors import OpsError

PROBE_TIMEOUT = 30.0  # the probe reaching the database (through Kafka: the loader writes it)


def probe_transaction(transaction_id: str) -> dict[str, Any]:
    return {
        "transaction_id": transaction_id,
        "timestamp": datetime.now(UTC).isoformat(),
        "account_id": "ACC-PROBE",
        "amount": "0.01",
        "currency": "USD",
        "transaction_type": "payment",
    }


def probe_reaches(ingest_url: str, conninfo: str, transaction_id: str, where: str) -> None:
    """Send a probe through the ingest service and wait until it is in the database at
    `conninfo` (`where` names it in the failure): the write path works end to end."""
    probe = probe_transaction(transaction_id)
    response = httpx.post(f"{ingest_url}{FINANCIAL_PATH}", json=probe, timeout=10)
    if response.status_code != 200:
        raise OpsError(f"the ingest service refused a probe record: HTTP {response.status_code}")

    def arrived() -> bool:
        with psycopg.connect(conninfo) as conn:
            row = conn.execute(
                "SELECT count(*) FROM financial_transactions WHERE transaction_id = %s", (transaction_id,)
            ).fetchone()
        return bool(row and row[0] == 1)

    # With Kafka the loader writes it after the broker acknowledged it: a bounded wait.
    deadline = time.monotonic() + PROBE_TIMEOUT
    while not arrived():
        if time.monotonic() > deadline:
            raise OpsError(f"the probe record did not reach {where} within {PROBE_TIMEOUT:.0f} s")
        time.sleep(0.2)
