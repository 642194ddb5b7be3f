"""The records the ingest path accepts: the shapes the platform's simulate_data.py sends."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

_RECORD = ConfigDict(extra="forbid", str_strip_whitespace=True)

TransactionType = Literal["debit", "credit", "transfer", "payment", "withdrawal", "refund"]
ClaimType = Literal["auto", "health", "home", "life", "property", "medical"]
ClaimStatus = Literal["submitted", "under_review", "in_progress", "approved", "rejected", "paid", "closed"]


class FinancialTransaction(BaseModel):
    model_config = _RECORD
    transaction_id: str = Field(min_length=1, max_length=128)
    timestamp: datetime
    account_id: str = Field(min_length=1, max_length=64)
    amount: Decimal = Field(gt=0, max_digits=16, decimal_places=2)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    transaction_type: TransactionType
    merchant_id: str | None = Field(default=None, max_length=64)
    location: str | None = Field(default=None, max_length=128)
    is_flagged: bool = False


class InsuranceClaim(BaseModel):
    model_config = _RECORD
    claim_id: str = Field(min_length=1, max_length=128)
    timestamp: datetime
    policy_number: str = Field(min_length=1, max_length=64)
    claim_amount: Decimal = Field(gt=0, max_digits=16, decimal_places=2)
    claim_type: ClaimType
    claim_status: ClaimStatus
    customer_id: str = Field(min_length=1, max_length=64)
    incident_date: datetime
