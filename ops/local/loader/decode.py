"""A raw topic's message back into the record the ingest service accepted, and into the
warehouse table of its type."""

from __future__ import annotations

from confluent_kafka import Message
from pydantic import ValidationError

from ops.contracts import RECORD_TYPE_HEADER
from ops.local.ingest.records import FinancialTransaction, InsuranceClaim
from ops.local.ingest.store import Store

Record = FinancialTransaction | InsuranceClaim
MODELS: dict[str, type[FinancialTransaction] | type[InsuranceClaim]] = {
    "financial_transaction": FinancialTransaction,
    "insurance_claim": InsuranceClaim,
}


class Undecodable(ValueError):
    """A message that is no record of a known type: skipped, never retried."""


def decode(message: Message) -> Record:
    headers = message.headers() or []
    pairs = headers.items() if isinstance(headers, dict) else headers
    kinds = [value for name, value in pairs if name == RECORD_TYPE_HEADER]
    kind = kinds[-1] if kinds else None
    if isinstance(kind, bytes):
        kind = kind.decode(errors="replace")
    model = MODELS.get(kind or "")
    if model is None:
        raise Undecodable(f"no known {RECORD_TYPE_HEADER} header (got {kind!r})")
    value = message.value()
    if value is None:
        raise Undecodable("no value")
    try:
        return model.model_validate_json(value)
    except ValidationError as error:
        raise Undecodable(f"not a valid {kind}: {error.error_count()} error(s)") from None


def store_record(store: Store, record: Record) -> bool:
    """True if stored now, False if a record with that id was already there."""
    if isinstance(record, FinancialTransaction):
        return store.insert_transaction(record)
    return store.insert_claim(record)
