"""Realistic, reproducible records for the ingest path.

Distributions: amounts are log-normal (many small, a long tail of large ones), currencies
and types are weighted as in a retail bank's mix, about 1.5% of transactions are flagged,
and a claim's incident precedes its filing by an exponentially distributed delay. The same
seed and run id give the same records.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

CURRENCIES = (
    ("USD", 0.55),
    ("EUR", 0.2),
    ("GBP", 0.1),
    ("JPY", 0.05),
    ("CAD", 0.05),
    ("AUD", 0.05),
)
TRANSACTION_TYPES = (
    ("payment", 0.45),
    ("debit", 0.2),
    ("credit", 0.15),
    ("transfer", 0.12),
    ("withdrawal", 0.06),
    ("refund", 0.02),
)
CLAIM_TYPES = (("auto", 0.35), ("health", 0.3), ("home", 0.2), ("property", 0.1), ("life", 0.05))
CLAIM_STATUSES = (
    ("submitted", 0.5),
    ("under_review", 0.25),
    ("approved", 0.12),
    ("rejected", 0.06),
    ("paid", 0.07),
)
# Median claim amount by type (log-normal around it).
CLAIM_MEDIANS = {
    "auto": 3500.0,
    "health": 1200.0,
    "home": 8000.0,
    "property": 15000.0,
    "life": 50000.0,
}


class PayloadGenerator:
    """Records with ids unique to a run: `<TX|IC>-<run id>-<sequence>`."""

    def __init__(self, run_id: str, seed: int = 0, now: datetime | None = None) -> None:
        self.run_id = run_id
        self.rng = random.Random(f"{seed}:{run_id}")
        self.now = now or datetime.now(UTC)
        self._sequence = 0

    def _next_id(self, prefix: str) -> str:
        self._sequence += 1
        return f"{prefix}-{self.run_id}-{self._sequence:08d}"

    def _pick(self, weighted: tuple[tuple[str, float], ...]) -> str:
        values, weights = zip(*weighted, strict=True)
        return str(self.rng.choices(values, weights)[0])

    def _recent(self, within: timedelta) -> datetime:
        return self.now - timedelta(seconds=self.rng.uniform(0, within.total_seconds()))

    def financial_transaction(self) -> dict[str, Any]:
        amount = min(round(self.rng.lognormvariate(3.6, 1.2), 2), 1_000_000.0)
        return {
            "transaction_id": self._next_id("TX"),
            "timestamp": self._recent(timedelta(minutes=5)).isoformat(),
            "account_id": f"ACC-{self.rng.randint(100000, 999999)}",
            "amount": f"{max(amount, 0.01):.2f}",
            "currency": self._pick(CURRENCIES),
            "transaction_type": self._pick(TRANSACTION_TYPES),
            "merchant_id": f"MER-{self.rng.randint(1000, 9999)}",
            "location": self.rng.choice(("London", "New York", "Frankfurt", "Tokyo", "Toronto", "Sydney")),
            "is_flagged": self.rng.random() < 0.015,
        }

    def insurance_claim(self) -> dict[str, Any]:
        claim_type = self._pick(CLAIM_TYPES)
        filed = self._recent(timedelta(minutes=5))
        amount = self.rng.lognormvariate(0, 0.8) * CLAIM_MEDIANS[claim_type]
        return {
            "claim_id": self._next_id("IC"),
            "timestamp": filed.isoformat(),
            "policy_number": f"POL-{self.rng.randint(1000000, 9999999)}",
            "claim_amount": f"{min(amount, 5_000_000.0):.2f}",
            "claim_type": claim_type,
            "claim_status": self._pick(CLAIM_STATUSES),
            "customer_id": f"CUST-{self.rng.randint(10000, 99999)}",
            "incident_date": (filed - timedelta(days=self.rng.expovariate(1 / 12))).isoformat(),
        }

    def invalid_records(self) -> list[tuple[str, dict[str, Any], str]]:
        """Records the ingest path must reject: (record type, payload, what is wrong)."""
        good_tx, good_claim = self.financial_transaction(), self.insurance_claim()
        bad_id = f"BAD-{self.run_id}"
        return [
            (
                "financial_transaction",
                {**good_tx, "transaction_id": f"{bad_id}-1", "amount": "-5.00"},
                "negative amount",
            ),
            (
                "financial_transaction",
                {**good_tx, "transaction_id": f"{bad_id}-2", "currency": "dollars"},
                "bad currency",
            ),
            (
                "financial_transaction",
                {k: v for k, v in good_tx.items() if k != "account_id"} | {"transaction_id": f"{bad_id}-3"},
                "missing account_id",
            ),
            (
                "insurance_claim",
                {**good_claim, "claim_id": f"{bad_id}-4", "claim_type": "spaceship"},
                "unknown claim type",
            ),
            (
                "insurance_claim",
                {**good_claim, "claim_id": f"{bad_id}-5", "timestamp": "yesterday"},
                "bad timestamp",
            ),
            (
                "insurance_claim",
                {**good_claim, "claim_id": f"{bad_id}-6", "surprise": 1},
                "unknown field",
            ),
        ]
