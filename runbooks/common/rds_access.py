"""How the AWS provider reaches a database for its data checks: the address (the endpoint
RDS reports, or where OPS_DB_ADDRESSES maps the instance: a port-forward, an SSH tunnel, a
VPN with its own DNS) and the credentials (a Secrets Manager secret, never journaled)."""

from __future__ import annotations

import fnmatch
import json
import os
from dataclasses import dataclass, field
from typing import Any

import psycopg
from botocore.exceptions import ClientError
from psycopg.conninfo import make_conninfo

from ops.errors import BadInput, OpsError

ADDRESSES_ENV = "OPS_DB_ADDRESSES"
CONNECT_TIMEOUT_S = 10


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class AddressOverride:
    pattern: str  # a glob on the DB instance or cluster identifier
    host: str
    port: int


def parse_overrides(text: str) -> list[AddressOverride]:
    """`id-glob=host:port,...`; the first match wins."""
    overrides = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        pattern, _, address = item.partition("=")
        host, _, port = address.rpartition(":")
        if not pattern or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise BadInput(
                f"{ADDRESSES_ENV}: {item!r} is not IDENTIFIER=HOST:PORT "
                f"(e.g. 'dataplat-prod-warehouse*=127.0.0.1:15432')"
            )
        overrides.append(AddressOverride(pattern, host, int(port)))
    return overrides


def address_for(identifier: str, endpoint: dict[str, Any]) -> tuple[str, int]:
    """Where to connect for this instance: an override from OPS_DB_ADDRESSES, else its endpoint."""
    for override in parse_overrides(os.environ.get(ADDRESSES_ENV, "")):
        if fnmatch.fnmatchcase(identifier, override.pattern):
            return override.host, override.port
    return str(endpoint["Address"]), int(endpoint.get("Port") or 5432)


def read_credentials(secrets: Any, secret_id: str) -> Credentials:
    """username and password from a secret in Secrets Manager's JSON form."""
    try:
        value = secrets.get_secret_value(SecretId=secret_id)["SecretString"]
    except ClientError as error:
        info = error.response.get("Error", {})
        message = " ".join(str(info.get("Message") or "").split())  # AWS's words name a denied action
        raise OpsError(
            f"secret {secret_id}: {info.get('Code')}{': ' + message if message else ''} "
            f"(the data checks read username and password from it)"
        ) from error
    try:
        fields = json.loads(value)
        return Credentials(str(fields["username"]), str(fields["password"]))
    except (ValueError, KeyError, TypeError) as error:
        raise OpsError(f"secret {secret_id}: not JSON with 'username' and 'password'") from error


def conninfo(host: str, port: int, dbname: str, credentials: Credentials) -> str:
    """TLS required unless PGSSLMODE says otherwise (RDS accepts TLS on every engine version)."""
    return make_conninfo(
        host=host,
        port=port,
        dbname=dbname,
        user=credentials.username,
        password=credentials.password,
        sslmode=os.environ.get("PGSSLMODE", "require"),
        connect_timeout=CONNECT_TIMEOUT_S,
        application_name="platform-ops",
    )


def reachable(conn_info: str, identifier: str, host: str, port: int) -> None:
    """Connect once, so an unreachable database fails the pre-flight, not the validation."""
    try:
        with psycopg.connect(conn_info) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as error:
        reason = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
        raise OpsError(
            f"cannot reach {identifier} at {host}:{port} for the data checks ({reason}); run from "
            f"inside the VPC, map it with {ADDRESSES_ENV}, or pass -p validate_data=false"
        ) from error
