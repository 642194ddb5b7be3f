"""The loader: the local stand-in for the Glue/EMR streaming jobs that load the raw Kafka
topics into the warehouse. `python -m ops.local.loader`, configured by the environment
variables named here; it follows the Kafka and the database endpoint parameters."""

from ops.aws.clients import ENDPOINT_ENV as AWS_ENDPOINT_ENV
from ops.contracts import KAFKA_PARAMETER_ENV
from ops.contracts import PARAMETER_ENV as DATABASE_PARAMETER_ENV

# JSON list: [{"group": "glue-financial-etl", "topics": ["raw_financial_transactions"]}, ...]
GROUPS_ENV = "OPS_LOADER_GROUPS"
# The port of its /health and /metrics, on 127.0.0.1.
PORT_ENV = "OPS_LOADER_PORT"

__all__ = ["AWS_ENDPOINT_ENV", "DATABASE_PARAMETER_ENV", "GROUPS_ENV", "KAFKA_PARAMETER_ENV", "PORT_ENV"]
