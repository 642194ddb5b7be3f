"""Managed Grafana, the dashboards' workspace (the dashboards themselves are built from every
kind's alarms, in dashboards/)."""

from __future__ import annotations

from ops.inventory.components import Grafana
from ops.inventory.environment import Environment
from ops.kinds.base import ComponentKind


class GrafanaKind(ComponentKind[Grafana]):
    kind = "grafana"

    def aws_names(self, env: Environment, grafana: Grafana) -> list[str]:
        return [env.resource_name(grafana.workspace_name)]

    def settings(self, grafana: Grafana) -> str:
        return f"auth {grafana.authentication}"


KIND = GrafanaKind()
