"""Persistence of ingested records, and the database endpoint read from an SSM parameter
(so a cutover that rewrites the parameter moves the service)."""

from __future__ import annotations

import threading
import time
from typing import Any

from psycopg_pool import ConnectionPool

from ops.contracts import DatabaseEndpoint
from ops.local.ingest.records import FinancialTransaction, InsuranceClaim

SCHEMA = """
CREATE TABLE IF NOT EXISTS financial_transactions (
    transaction_id   text PRIMARY KEY,
    event_time       timestamptz NOT NULL,
    account_id       text NOT NULL,
    amount           numeric(16, 2) NOT NULL,
    currency         char(3) NOT NULL,
    transaction_type text NOT NULL,
    merchant_id      text,
    location         text,
    is_flagged       boolean NOT NULL DEFAULT false,
    received_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE TABLE IF NOT EXISTS insurance_claims (
    claim_id      text PRIMARY KEY,
    event_time    timestamptz NOT NULL,
    policy_number text NOT NULL,
    claim_amount  numeric(16, 2) NOT NULL,
    claim_type    text NOT NULL,
    claim_status  text NOT NULL,
    customer_id   text NOT NULL,
    incident_date timestamptz NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
"""

INSERT_TRANSACTION = """
INSERT INTO financial_transactions (transaction_id, event_time, account_id, amount, currency,
    transaction_type, merchant_id, location, is_flagged)
VALUES (%(transaction_id)s, %(timestamp)s, %(account_id)s, %(amount)s, %(currency)s,
    %(transaction_type)s, %(merchant_id)s, %(location)s, %(is_flagged)s)
ON CONFLICT (transaction_id) DO NOTHING
"""

INSERT_CLAIM = """
INSERT INTO insurance_claims (claim_id, event_time, policy_number, claim_amount, claim_type,
    claim_status, customer_id, incident_date)
VALUES (%(claim_id)s, %(timestamp)s, %(policy_number)s, %(claim_amount)s, %(claim_type)s,
    %(claim_status)s, %(customer_id)s, %(incident_date)s)
ON CONFLICT (claim_id) DO NOTHING
"""


class Store:
    """A connection pool to the endpoint the parameter names, re-read every `ttl` seconds."""

    def __init__(self, read_endpoint: Any, ttl: float = 2.0, pool_size: int = 8) -> None:
        self._read_endpoint = read_endpoint
        self._ttl = ttl
        self._pool_size = pool_size
        self._lock = threading.Lock()
        self._endpoint: DatabaseEndpoint | None = None
        self._pool: ConnectionPool | None = None
        self._checked_at = 0.0

    def current(self) -> tuple[DatabaseEndpoint, ConnectionPool]:
        with self._lock:
            if self._pool is None or time.monotonic() - self._checked_at > self._ttl:
                self._refresh()
            assert self._endpoint is not None and self._pool is not None
            return self._endpoint, self._pool

    def invalidate(self) -> None:
        """Re-read the parameter on the next request (after a database error)."""
        with self._lock:
            self._checked_at = 0.0

    def _refresh(self) -> None:
        endpoint = self._read_endpoint()
        self._checked_at = time.monotonic()
        if endpoint == self._endpoint and self._pool is not None:
            return
        pool = ConnectionPool(endpoint.conninfo, min_size=1, max_size=self._pool_size, open=True, timeout=10)
        with pool.connection() as conn:
            conn.execute(SCHEMA)
        old, self._pool, self._endpoint = self._pool, pool, endpoint
        if old is not None:
            old.close()

    def insert_transaction(self, record: FinancialTransaction) -> bool:
        return self._insert(INSERT_TRANSACTION, record.model_dump())

    def insert_claim(self, record: InsuranceClaim) -> bool:
        return self._insert(INSERT_CLAIM, record.model_dump())

    def _insert(self, statement: str, values: dict[str, Any]) -> bool:
        """True if stored, False if a record with that id was already there."""
        _, pool = self.current()
        with pool.connection() as conn:
            cursor = conn.execute(statement, values)
            return cursor.rowcount == 1

    def ping(self) -> DatabaseEndpoint:
        endpoint, pool = self.current()
        with pool.connection() as conn:
            conn.execute("SELECT 1")
        return endpoint

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None
