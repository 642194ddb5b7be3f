"""Reading the local services' /health: the ingest service's and the loader's (where they
write, and what a failover holds of them)."""

from __future__ import annotations

import httpx

HEALTH_TIMEOUT = 3.0


def read_health(url: str) -> tuple[bool, dict[str, object] | str]:
    """(healthy, the body) of `url`/health; the body is a one-line reason when unhealthy."""
    try:
        response = httpx.get(f"{url}/health", timeout=HEALTH_TIMEOUT)
    except httpx.HTTPError as error:
        return False, f"not answering ({type(error).__name__})"
    if response.status_code != 200:
        return False, f"unhealthy: {response.text[:80]}"
    body = response.json()
    return True, body if isinstance(body, dict) else {}


def ingest_health(url: str) -> tuple[bool, str]:
    """The ingest service's health: where it writes, `database <endpoint>` or, producing
    to Kafka, `kafka <endpoint>`."""
    healthy, body = read_health(url)
    if not isinstance(body, dict):
        return healthy, body
    if "kafka" in body:
        return True, f"kafka {body['kafka']}"
    return True, f"database {body.get('database')}"


def loader_health(url: str) -> tuple[bool, str]:
    """The loader's health: the database it writes (`database <endpoint>`)."""
    healthy, body = read_health(url)
    if not isinstance(body, dict):
        return healthy, body
    return True, f"database {body.get('database')}"
