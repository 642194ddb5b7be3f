"""Runbook definitions: a package each (see runbooks/rds_pitr/__init__.py for the layout);
REGISTRY names them. Importing it imports no provider (no boto3, psycopg or ops.local)."""

from __future__ import annotations

from ops.errors import BadInput
from ops.runbook.model import Runbook
from runbooks.aurora_failover import AuroraFailover
from runbooks.msk_broker_reboot import MskBrokerReboot
from runbooks.msk_failover import MskFailback, MskFailover
from runbooks.rds_pitr import RdsPitr

REGISTRY: dict[str, Runbook] = {
    runbook.name: runbook
    for runbook in (RdsPitr(), AuroraFailover(), MskFailover(), MskFailback(), MskBrokerReboot())
}


def get_runbook(name: str) -> Runbook:
    if name not in REGISTRY:
        raise BadInput(f"no runbook {name!r} (runbooks: {', '.join(sorted(REGISTRY))})")
    return REGISTRY[name]
