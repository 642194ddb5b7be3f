"""The ingest service's HTTP API: POST records, /health, /metrics.

Run by `ops local up` as `uvicorn ops.local.ingest.app:create_app --factory`. It reads its
database endpoint from the SSM parameter named by OPS_INGEST_ENDPOINT_PARAMETER.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter, Histogram, make_asgi_app
from psycopg_pool import PoolTimeout

from ops.aws.clients import AwsTarget, ClientFactory
from ops.contracts import FINANCIAL_PATH, INSURANCE_PATH, PARAMETER_ENV, RECORD_TYPES, DatabaseEndpoint
from ops.local.ingest.records import FinancialTransaction, InsuranceClaim
from ops.local.ingest.store import Store


class Metrics:
    """The service's Prometheus metrics, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.records = Counter(
            "ingest_records",
            "Records received, by type and outcome (accepted, duplicate, rejected, failed)",
            ["record_type", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "ingest_request_duration_seconds",
            "Time to validate and persist one record",
            ["record_type"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )


def parameter_reader(parameter: str) -> Callable[[], DatabaseEndpoint]:
    ssm = ClientFactory(AwsTarget().with_defaults(region=os.environ.get("AWS_DEFAULT_REGION"))).client("ssm")

    def read() -> DatabaseEndpoint:
        value = ssm.get_parameter(Name=parameter)["Parameter"]["Value"]
        return DatabaseEndpoint.from_json(value)

    return read


def create_app(store: Store | None = None) -> FastAPI:
    if store is None:
        store = Store(parameter_reader(os.environ[PARAMETER_ENV]))
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        store.close()

    app = FastAPI(title="platform ingest service", lifespan=lifespan)
    app.mount("/metrics", make_asgi_app(registry=metrics.registry))

    @app.exception_handler(RequestValidationError)
    async def rejected(request: Request, error: RequestValidationError) -> JSONResponse:
        record_type = RECORD_TYPES.get(request.url.path, "unknown")
        metrics.records.labels(record_type, "rejected").inc()
        return JSONResponse(
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            content={"detail": _plain_errors(error)},
        )

    def persist(record_type: str, insert: Callable[[], bool], record_id: str) -> JSONResponse:
        started = time.perf_counter()
        try:
            stored = insert()
        except (psycopg.Error, PoolTimeout) as error:
            store.invalidate()  # the endpoint may have moved: re-read the parameter
            metrics.records.labels(record_type, "failed").inc()
            return JSONResponse(
                status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
                content={"detail": f"database unavailable: {type(error).__name__}"},
            )
        finally:
            metrics.latency.labels(record_type).observe(time.perf_counter() - started)
        outcome = "accepted" if stored else "duplicate"
        metrics.records.labels(record_type, outcome).inc()
        return JSONResponse({"message": f"{record_type} ingested", "id": record_id, "outcome": outcome})

    @app.post(FINANCIAL_PATH)
    def ingest_financial_transaction(record: FinancialTransaction) -> JSONResponse:
        return persist(
            "financial_transaction", lambda: store.insert_transaction(record), record.transaction_id
        )

    @app.post(INSURANCE_PATH)
    def ingest_insurance_claim(record: InsuranceClaim) -> JSONResponse:
        return persist("insurance_claim", lambda: store.insert_claim(record), record.claim_id)

    @app.get("/health")
    def health() -> JSONResponse:
        try:
            endpoint = store.ping()
        except Exception as error:  # health reports any failure, it never raises
            store.invalidate()
            return JSONResponse(
                status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
                content={"status": "unhealthy", "error": type(error).__name__},
            )
        return JSONResponse({"status": "ok", "database": str(endpoint)})

    return app


def _plain_errors(error: RequestValidationError) -> list[dict[str, Any]]:
    """Validation errors without the rejected input echoed back."""
    return [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in error.errors()
    ]
