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


# --- the Kafka path: where producers and consumers find their cluster ---------------------
# The environment variable naming the SSM parameter that holds the Kafka endpoint (JSON).
KAFKA_PARAMETER_ENV = "OPS_KAFKA_ENDPOINT_PARAMETER"

# Headers of every record the ingest path produces (the key is the record's id).
RECORD_TYPE_HEADER = "record-type"  # financial_transaction | insurance_claim
PRODUCER_HEADER = "producer"  # the producing process's id (a new one per start)
SEQUENCE_HEADER = "sequence"  # that producer's sequence number, from 1, decimal


def origin_header(cluster: str) -> str:
    """The header (empty value) marking a record produced to msk component `cluster`: a
    replicator drops the records marked with its target's, so that two directions of
    replication with identical topic names never send a record round (ops/local/mirror.py)."""
    return f"origin.{cluster}"


@dataclass(frozen=True)
class KafkaEndpoint:
    """The cluster clients use now; a failover rewrites it (JSON in an SSM parameter, no
    secrets). `topic_prefix` is set when the cluster holds the topics under a replicator's
    prefix (`events.raw_financial_transactions` on a DR cluster that prefixes).

    A failover also holds the clients while it moves them, as AWS's procedure stops them
    (the ingest functions' concurrency at 0, the streaming jobs stopped): with
    `producers_paused` the ingest path refuses records (503) and produces nothing; with
    `consumers_stopped` the consumers commit what they wrote and leave their groups."""

    cluster: str  # the inventory's msk component whose brokers these are
    bootstrap_servers: str
    topic_prefix: str = ""
    producers_paused: bool = False
    consumers_stopped: bool = False

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    @property
    def location(self) -> tuple[str, str, str]:
        """Where the clients connect: a change of it (not of a hold) means a new client."""
        return (self.cluster, self.bootstrap_servers, self.topic_prefix)

    @classmethod
    def from_json(cls, text: str) -> KafkaEndpoint:
        data = json.loads(text)
        return cls(
            str(data["cluster"]),
            str(data["bootstrap_servers"]),
            str(data.get("topic_prefix", "")),
            bool(data.get("producers_paused", False)),
            bool(data.get("consumers_stopped", False)),
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "cluster": self.cluster,
                "bootstrap_servers": self.bootstrap_servers,
                "topic_prefix": self.topic_prefix,
                "producers_paused": self.producers_paused,
                "consumers_stopped": self.consumers_stopped,
            },
            sort_keys=True,
        )

    def __str__(self) -> str:
        return f"{self.cluster} ({self.bootstrap_servers})"


def kafka_endpoint_parameter(env: Environment, component: str) -> str:
    """The SSM parameter the clients of an msk component (its producers and consumers) read
    their cluster from: the component's own brokers until a failover points it elsewhere."""
    return env.parameter_name(component, "endpoint")


def bootstrap_brokers_parameter(env: Environment, component: str) -> str:
    """An msk cluster's own bootstrap brokers (plain text, as GetBootstrapBrokers gives them)."""
    return env.parameter_name(component, "bootstrap-brokers")


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
