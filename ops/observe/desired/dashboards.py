"""The desired dashboards of an environment: built from the alarms that will exist
(dashboards/build.py) and rendered for each target."""

from __future__ import annotations

import json

from alarms.spec import AlarmSpec
from dashboards.build import dashboards_for
from dashboards.cloudwatch import dashboard_name, render_body
from dashboards.grafana import render_dashboard
from dashboards.model import Dashboard
from ops.inventory.environment import Environment
from ops.observe.providers.cw_dashboards import DASHBOARD_KIND
from ops.observe.providers.grafana_dashboards import GRAFANA_KIND, canonical
from ops.observe.providers.ownership import ownership_tags
from ops.reconcile.model import Resource


def dashboard_resources(env: Environment, alarms: list[AlarmSpec], account: str) -> list[Resource]:
    """Both targets from one build of the dashboards."""
    boards = dashboards_for(env, alarms)
    return cloudwatch_dashboards(env, boards, account) + grafana_dashboards(env, boards)


def cloudwatch_dashboards(env: Environment, boards: list[Dashboard], account: str) -> list[Resource]:
    resources = []
    for board in boards:
        body = json.loads(json.dumps(render_body(board, account)))  # the form read back
        resources.append(
            Resource(
                DASHBOARD_KIND,
                dashboard_name(env.prefix, board),
                {"body": body},
                ownership_tags(env, DASHBOARD_KIND),
                board.key,
            )
        )
    return resources


def grafana_dashboards(env: Environment, boards: list[Dashboard]) -> list[Resource]:
    """The same dashboards for Grafana, by uid (the identity Grafana keys them by)."""
    resources = []
    for board in boards:
        model = canonical(render_dashboard(env.prefix, board))
        resources.append(
            Resource(
                GRAFANA_KIND, model["uid"], {"dashboard": model}, ownership_tags(env, GRAFANA_KIND), board.key
            )
        )
    return resources
