"""Every component kind, by the inventory's `kind`: what each knows about itself."""

from __future__ import annotations

from typing import Any

from ops.inventory.components import Component
from ops.kinds import (
    adot,
    api_gateway,
    aws_lambda,
    documentdb,
    ecs_cluster,
    emr,
    glue,
    grafana,
    msk,
    msk_replicator,
    mwaa,
    rds,
    s3,
)
from ops.kinds.base import ComponentKind

KINDS: dict[str, ComponentKind[Any]] = {
    kind.kind: kind
    for kind in (
        api_gateway.KIND,
        aws_lambda.KIND,
        msk.KIND,
        msk_replicator.KIND,
        s3.KIND,
        glue.KIND,
        emr.KIND,
        rds.KIND,
        documentdb.KIND,
        mwaa.KIND,
        adot.KIND,
        grafana.KIND,
        ecs_cluster.KIND,
    )
}


def kind_of(component: Component) -> ComponentKind[Any]:
    return KINDS[component.kind]


def ingest_path() -> list[ComponentKind[Any]]:
    """The kinds on the ingest path, in its order."""
    return sorted((k for k in KINDS.values() if k.ingest_stage), key=lambda k: k.ingest_stage)
