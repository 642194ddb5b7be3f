"""Runbook definitions. Each module defines one runbook; REGISTRY names them."""

from __future__ import annotations

from ops.runbook.model import Runbook
from runbooks.rds_pitr import RdsPitr

REGISTRY: dict[str, Runbook] = {runbook.name: runbook for runbook in (RdsPitr(),)}
