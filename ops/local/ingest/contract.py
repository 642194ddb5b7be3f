"""The ingest service's contract, importable without loading the web stack."""

from __future__ import annotations

FINANCIAL_PATH = "/ingest-financial-transaction/"
INSURANCE_PATH = "/ingest-insurance-claim/"
RECORD_TYPES = {FINANCIAL_PATH: "financial_transaction", INSURANCE_PATH: "insurance_claim"}
PATHS = {record_type: path for path, record_type in RECORD_TYPES.items()}

# The environment variable naming the SSM parameter that holds the database endpoint.
PARAMETER_ENV = "OPS_INGEST_ENDPOINT_PARAMETER"
