"""Reading the local services' /health: the ingest service's and the loader's (where they
write, and what a failover holds of them)."""

from __future__ import annotations

import json

import httpx

HEALTH_TIMEOUT = 3.0


def read_health(url: str) -> tuple[bool, dict[str, object] | str]:
    """(healthy, the body) of `url`/health; a one-line reason instead of the body when there
    is none (not answering, not JSON)."""
    try:
        response = httpx.get(f"{url}/health", timeout=HEALTH_TIMEOUT)
    except httpx.HTTPError as error:
        return False, f"not answering ({type(error).__name__})"
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 200:
        # An unhealthy service may still report what it knows (a held producer, its groups).
        return False, body if isinstance(body, dict) else f"unhealthy: {response.text[:80]}"
    return True, body if isinstance(body, dict) else {}


def ingest_health(url: str) -> tuple[bool, str]:
    """The ingest service's health: where it writes, `database <endpoint>` or, producing
    to Kafka, `kafka <endpoint>`."""
    healthy, body = read_health(url)
    if not isinstance(body, dict):
        return healthy, body
    if not healthy:
        return False, f"unhealthy: {json.dumps(body)[:80]}"
    if "kafka" in body:
        return True, f"kafka {body['kafka']}"
    return True, f"database {body.get('database')}"


def loader_health(url: str) -> tuple[bool, str]:
    """The loader's health: the database it writes (`database <endpoint>`)."""
    healthy, body = read_health(url)
    if not isinstance(body, dict):
        return healthy, body
    if not healthy:
        return False, f"unhealthy: {json.dumps(body)[:80]}"
    return True, f"database {body.get('database')}"
