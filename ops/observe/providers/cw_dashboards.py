"""CloudWatch dashboards. A dashboard takes no tags, so ownership and the fingerprint of
what we last wrote live in the dashboard itself: its last widget, a text widget that says
the dashboard is platform-ops' (and that edits are overwritten)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from ops.inventory.environment import Environment
from ops.observe.providers.base import AwsProvider
from ops.observe.providers.ownership import chunks
from ops.reconcile.model import Observed, Resource

DASHBOARD_KIND = "cloudwatch-dashboard"
MARKER = re.compile(r"platform-ops:(?P<key>[a-z]+)=(?P<value>[A-Za-z0-9_.:-]+)")


def marker_widget(env: Environment, fingerprint: str, y: int) -> dict[str, Any]:
    fields = {
        "platform": env.platform,
        "environment": env.name,
        "kind": DASHBOARD_KIND,
        "fingerprint": fingerprint,
    }
    text = " ".join(f"`platform-ops:{k}={v}`" for k, v in fields.items())
    markdown = f"Managed by platform-ops from the inventory: edits here are overwritten. {text}"
    return {"type": "text", "x": 0, "y": y, "width": 24, "height": 2, "properties": {"markdown": markdown}}


def split_marker(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The body without our marker widget, and the marker's fields ({} when none)."""
    widgets = list(body.get("widgets", []))
    if widgets and widgets[-1].get("type") == "text":
        fields = {
            m["key"]: m["value"]
            for m in MARKER.finditer(widgets[-1].get("properties", {}).get("markdown", ""))
        }
        if fields:
            return {**body, "widgets": widgets[:-1]}, fields
    return body, {}


class CloudWatchDashboards(AwsProvider):
    kind = DASHBOARD_KIND
    title = "CloudWatch dashboards"
    delete_batch = 100
    needs = frozenset({"cloudwatch:PutDashboard", "cloudwatch:DeleteDashboards"})

    def read(self, desired: Sequence[Resource]) -> list[Observed]:
        cloudwatch = self.client("cloudwatch")
        names = {r.name for r in desired}
        pages = cloudwatch.get_paginator("list_dashboards").paginate(
            DashboardNamePrefix=f"{self.env.prefix}-"
        )
        names |= {d["DashboardName"] for page in pages for d in page.get("DashboardEntries", [])}
        observed = []
        for name in sorted(names):
            try:
                answer = cloudwatch.get_dashboard(DashboardName=name)
            except cloudwatch.exceptions.ResourceNotFound:
                continue
            body, fields = split_marker(json.loads(answer["DashboardBody"]))
            # The marker's fields stand for the tags a dashboard cannot take.
            tags = {f"platform-ops:{k}": v for k, v in fields.items()}
            ours = (self.env.platform, self.env.name, DASHBOARD_KIND)
            owned = (fields.get("platform"), fields.get("environment"), fields.get("kind")) == ours
            arn = answer.get("DashboardArn", "")
            observed.append(self.observed(name, {"body": body}, tags, owned=owned, arn=arn))
        return observed

    def create(self, resource: Resource) -> None:
        body = dict(resource.properties["body"])
        bottom = max((w.get("y", 0) + w.get("height", 0) for w in body["widgets"]), default=0)
        body["widgets"] = [*body["widgets"], marker_widget(self.env, resource.fingerprint, bottom)]
        self.client("cloudwatch").put_dashboard(DashboardName=resource.name, DashboardBody=json.dumps(body))

    def delete(self, observed: Sequence[Observed]) -> None:
        for batch in chunks([o.name for o in observed], self.delete_batch):
            self.client("cloudwatch").delete_dashboards(DashboardNames=batch)
