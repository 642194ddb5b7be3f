"""The payload generator: valid, reproducible records, and invalid ones the service rejects."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from loadtest.payloads import PayloadGenerator
from ops.local.ingest.records import FinancialTransaction, InsuranceClaim

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


def test_generated_records_are_valid_and_unique() -> None:
    generator = PayloadGenerator("run1", seed=7, now=NOW)
    transactions = [
        FinancialTransaction.model_validate(generator.financial_transaction()) for _ in range(300)
    ]
    claims = [InsuranceClaim.model_validate(generator.insurance_claim()) for _ in range(300)]
    assert len({t.transaction_id for t in transactions}) == 300
    assert all(c.incident_date <= c.timestamp for c in claims)
    assert all(t.transaction_id.startswith("TX-run1-") for t in transactions)


def test_the_same_seed_and_run_give_the_same_records() -> None:
    first = PayloadGenerator("r", seed=3, now=NOW)
    second = PayloadGenerator("r", seed=3, now=NOW)
    assert [first.financial_transaction() for _ in range(20)] == [
        second.financial_transaction() for _ in range(20)
    ]
    other = PayloadGenerator("r", seed=4, now=NOW)
    assert first.insurance_claim() != other.insurance_claim()


def test_amounts_have_a_long_tail() -> None:
    generator = PayloadGenerator("tail", seed=1, now=NOW)
    amounts = sorted(float(generator.financial_transaction()["amount"]) for _ in range(2000))
    median, p99 = amounts[1000], amounts[1980]
    assert p99 > 5 * median  # log-normal, not uniform


@pytest.mark.parametrize("index", range(6))
def test_every_invalid_record_fails_validation(index: int) -> None:
    record_type, payload, _ = PayloadGenerator("bad", now=NOW).invalid_records()[index]
    model = FinancialTransaction if record_type == "financial_transaction" else InsuranceClaim
    with pytest.raises(ValidationError):
        model.model_validate(payload)
