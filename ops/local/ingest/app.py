"""The ingest service's HTTP API: POST records, /health, /metrics.

Run by `ops local up` as `uvicorn ops.local.ingest.app:create_app --factory`. It writes each
record to the database named by the SSM parameter OPS_INGEST_ENDPOINT_PARAMETER; or, when
OPS_KAFKA_ENDPOINT_PARAMETER is set, produces it to Kafka (the cluster that parameter names)
and leaves the database to the loader.
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

from ops.contracts import (
    FINANCIAL_PATH,
    INSURANCE_PATH,
    KAFKA_PARAMETER_ENV,
    PARAMETER_ENV,
    RECORD_TYPES,
    DatabaseEndpoint,
)
from ops.local.follow import ssm_reader
from ops.local.ingest.acks import AckLog, Acknowledged, now
from ops.local.ingest.publisher import ProducersPaused, Publisher, PublishFailed
from ops.local.ingest.records import FinancialTransaction, InsuranceClaim
from ops.local.ingest.store import Store

Record = FinancialTransaction | InsuranceClaim
# (record type, record id, record) -> the answer to the request
Writer = Callable[[str, str, Record], JSONResponse]


class Metrics:
    """The service's Prometheus metrics, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.records = Counter(
            "ingest_records",
            "Records received, by type and outcome (accepted, duplicate, rejected, failed, paused)",
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
        self.produced = Counter(
            "ingest_produced",
            "Records handed to the Kafka producer, by type",
            ["record_type"],
            registry=self.registry,
        )
        self.acknowledged = Counter(
            "ingest_acknowledged",
            "Records the Kafka broker acknowledged (each answered 2xx), by type",
            ["record_type"],
            registry=self.registry,
        )


def parameter_reader(parameter: str) -> Callable[[], DatabaseEndpoint]:
    return ssm_reader(parameter, DatabaseEndpoint.from_json)


def create_app(
    store: Store | None = None, publisher: Publisher | None = None, acks: AckLog | None = None
) -> FastAPI:
    if store is None and publisher is None:
        if os.environ.get(KAFKA_PARAMETER_ENV):
            publisher = Publisher.from_environment()
            acks = AckLog.from_environment()
        else:
            store = Store(parameter_reader(os.environ[PARAMETER_ENV]))
    metrics = Metrics()
    if publisher is not None:
        write, check = _publishing(publisher, metrics, acks), _kafka_health(publisher)

        def close() -> None:
            publisher.close()
            if acks is not None:
                acks.close()

    else:
        assert store is not None
        write, check, close = _persisting(store, metrics), _database_health(store), store.close

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        close()

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

    @app.post(FINANCIAL_PATH)
    def ingest_financial_transaction(record: FinancialTransaction) -> JSONResponse:
        return write("financial_transaction", record.transaction_id, record)

    @app.post(INSURANCE_PATH)
    def ingest_insurance_claim(record: InsuranceClaim) -> JSONResponse:
        return write("insurance_claim", record.claim_id, record)

    @app.get("/health")
    def health() -> JSONResponse:
        return check()

    return app


def _persisting(store: Store, metrics: Metrics) -> Writer:
    """Each record written to the database (an id already there is a duplicate)."""

    def write(record_type: str, record_id: str, record: Record) -> JSONResponse:
        started = time.perf_counter()
        try:
            if isinstance(record, FinancialTransaction):
                stored = store.insert_transaction(record)
            else:
                stored = store.insert_claim(record)
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

    return write


def _publishing(publisher: Publisher, metrics: Metrics, acks: AckLog | None) -> Writer:
    """Each record produced to Kafka; 2xx only once the broker acknowledged it, and the
    acknowledgement logged."""

    def write(record_type: str, record_id: str, record: Record) -> JSONResponse:
        started = time.perf_counter()
        try:
            delivery = publisher.publish(record_type, record_id, record.model_dump_json().encode())
        except ProducersPaused as paused:
            # As a throttled function answers: come back shortly (the failover releases it).
            metrics.records.labels(record_type, "paused").inc()
            return JSONResponse(
                status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
                content={"detail": str(paused)},
                headers={"Retry-After": "1"},
            )
        except PublishFailed as failure:
            if failure.produced:
                metrics.produced.labels(record_type).inc()
            metrics.records.labels(record_type, "failed").inc()
            return JSONResponse(
                status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
                content={"detail": f"kafka unavailable: {failure}"},
            )
        finally:
            metrics.latency.labels(record_type).observe(time.perf_counter() - started)
        if acks is not None:
            acks.append(
                Acknowledged(
                    id=record_id,
                    type=record_type,
                    producer=delivery.producer,
                    sequence=delivery.sequence,
                    cluster=delivery.cluster,
                    topic=delivery.topic,
                    partition=delivery.partition,
                    offset=delivery.offset,
                    at=now(),
                )
            )
        metrics.produced.labels(record_type).inc()
        metrics.acknowledged.labels(record_type).inc()
        metrics.records.labels(record_type, "accepted").inc()
        return JSONResponse(
            {
                "message": f"{record_type} ingested",
                "id": record_id,
                "outcome": "accepted",
                "cluster": delivery.cluster,
                "partition": delivery.partition,
                "offset": delivery.offset,
            }
        )

    return write


def _database_health(store: Store) -> Callable[[], JSONResponse]:
    def check() -> JSONResponse:
        try:
            endpoint = store.ping()
        except Exception as error:  # health reports any failure, it never raises
            store.invalidate()
            return _unhealthy(error)
        return JSONResponse({"status": "ok", "database": str(endpoint)})

    return check


def _kafka_health(publisher: Publisher) -> Callable[[], JSONResponse]:
    def check() -> JSONResponse:
        # The producers' state first: a failover reads it while the cluster is down.
        try:
            state = publisher.state()
        except Exception as error:  # health reports any failure, it never raises
            return _unhealthy(error)
        producers = {"cluster": state.endpoint.cluster, "paused": state.paused, "in_flight": state.in_flight}
        try:
            endpoint = publisher.ping()
        except Exception as error:
            return _unhealthy(error, producers=producers)
        return JSONResponse({"status": "ok", "kafka": str(endpoint), "producers": producers})

    return check


def _unhealthy(error: Exception, **known: Any) -> JSONResponse:
    return JSONResponse(
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        content={"status": "unhealthy", "error": type(error).__name__, **known},
    )


def _plain_errors(error: RequestValidationError) -> list[dict[str, Any]]:
    """Validation errors without the rejected input echoed back."""
    return [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in error.errors()
    ]
