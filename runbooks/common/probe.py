"""The probe record a runbook's post-check sends through the ingest path: a financial
transaction of one cent, named after the run, that the check then looks for in the
warehouse."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def probe_transaction(transaction_id: str) -> dict[str, Any]:
    return {
        "transaction_id": transaction_id,
        "timestamp": datetime.now(UTC).isoformat(),
        "account_id": "ACC-PROBE",
        "amount": "0.01",
        "currency": "USD",
        "transaction_type": "payment",
    }
