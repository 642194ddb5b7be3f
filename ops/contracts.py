"""Contracts that the product and the platform it runs against share: the database
endpoint parameter's shape, the ingest service's paths, and the names the Terraform
modules export for the toolkit to read. Both sides import them from here, so they
cannot drift apart. Nothing heavy is imported at module level."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ops.inventory.environment import Environment

# --- the ingest path (API Gateway's routes; the local ingest service serves the same) ---
FINANCIAL_PATH = "/ingest-financial-transaction/"
INSURANCE_PATH = "/ingest-insurance-claim/"
RECORD_TYPES = {FINANCIAL_PATH: "financial_transaction", INSURANCE_PATH: "insurance_claim"}
PATHS = {record_type: path for path, record_type in RECORD_TYPES.items()}

# The environment variable naming the SSM parameter that holds the database endpoint.
PARAMETER_ENV = "OPS_INGEST_ENDPOINT_PARAMETER"


# --- the warehouse's endpoint parameter ---------------------------------------------------
@dataclass(frozen=True)
class DatabaseEndpoint:
    """Where the warehouse is; the SSM parameter holds this as JSON (no secrets in it)."""

    host: str
    port: int
    dbname: str
    user: str

    @classmethod
    def from_json(cls, text: str) -> DatabaseEndpoint:
        data = json.loads(text)
        return cls(str(data["host"]), int(data["port"]), str(data["dbname"]), str(data["user"]))

    def to_json(self) -> str:
        return json.dumps(
            {"host": self.host, "port": self.port, "dbname": self.dbname, "user": self.user},
            sort_keys=True,
        )

    @property
    def conninfo(self) -> str:
        import psycopg  # only where a connection is made: keeps the CLI's start-up lean

        return psycopg.conninfo.make_conninfo(
            host=self.host, port=self.port, dbname=self.dbname, user=self.user, connect_timeout=5
        )

    def __str__(self) -> str:
        return f"{self.host}:{self.port}/{self.dbname}"


def endpoint_parameter(env: Environment, component: str) -> str:
    """The SSM parameter a database component's clients read its endpoint from."""
    return env.parameter_name(component, "endpoint")


# --- what the Terraform modules write for the toolkit ---------------------------------------
def loadtest_network_parameter(env: Environment) -> str:
    """terraform/modules/loadtest: the tasks' subnets and security groups (JSON)."""
    return env.parameter_name("loadtest", "network")


def collector_image_parameter(env: Environment) -> str:
    """terraform/modules/adot: the collector image (var.collector_image)."""
    return env.parameter_name("adot-image")


def amp_url_parameter(env: Environment) -> str:
    """terraform/modules/observability: the AMP workspace's remote-write URL."""
    return env.parameter_name("amp", "remote-write-url")


def collector_roles(env: Environment, account: str) -> dict[str, str]:
    """terraform/modules/adot: the roles of the gateway's tasks."""
    return {
        "execution": f"arn:aws:iam::{account}:role/{env.prefix}-adot-execution",
        "task": f"arn:aws:iam::{account}:role/{env.prefix}-adot-task",
    }
