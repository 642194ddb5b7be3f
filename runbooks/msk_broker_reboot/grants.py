"""msk-broker-reboot's IAM grants: the resources its calls act on in an environment, for
`ops runbook iam` (ops/runbook/iam.py turns them into a policy). ListClustersV2,
DescribeClusterOperationV2 and GetMetricData take no resource (AWS's definitions)."""

from __future__ import annotations

from typing import Any

from ops.inventory.environment import Environment
from ops.runbook.model import IamGrant
from runbooks.msk_broker_reboot.steps import msk_component


def reboot_grants(env: Environment, params: Any) -> list[IamGrant]:
    """The one cluster, by name: its ARN is `cluster/<name>/<uuid>`, the uuid MSK's."""
    component = msk_component(env, params.cluster)
    cluster = f"{env.resource_name(component.cluster_name)}/*"
    actions = ("kafka:ListNodes", "kafka:DescribeClusterV2", "kafka:RebootBroker")
    return [IamGrant("kafka:cluster", (cluster,), actions, region=component.region)]
