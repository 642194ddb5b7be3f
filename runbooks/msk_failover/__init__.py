"""msk-failover and msk-failback: move the Kafka clients to the DR cluster and back, after
the MSK developer guide's planned failover and failback (runbooks/rds_pitr/__init__.py
describes the package layout)."""

from runbooks.msk_failover.steps import MskFailback, MskFailover

__all__ = ["MskFailback", "MskFailover"]
