"""Dashboards in Grafana (Managed Grafana or any Grafana), through grafana-client.

A folder per platform and environment (uid `pops-<prefix>`); dashboards with deterministic
uids carrying the ownership prefix (`pops-`) and the tag `platform-ops`; the fingerprint of
what we wrote kept in the dashboard's JSON (`platformOps`). Updates send the version read at
plan time with overwrite off: a dashboard changed in Grafana since (412 version-mismatch),
or a title taken in the folder (412 name-exists), is reported, never silently overwritten.
Drift ignores what Grafana changes by itself (id, version, iteration)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from grafana_client.api import GrafanaApi
from grafana_client.client import GrafanaClientError

from ops.inventory.environment import Environment
from ops.reconcile.model import Observed, Resource
from ops.reconcile.provider import BaseProvider

GRAFANA_KIND = "grafana-dashboard"
UID_PREFIX = "pops-"
OWNER_TAG = "platform-ops"
MARKER = "platformOps"  # our key in the dashboard JSON: platform, environment, fingerprint
VOLATILE = ("id", "version", "iteration", MARKER)


class GrafanaConflict(RuntimeError):
    """Grafana refused a write that would overwrite someone's change (HTTP 412)."""


def folder_uid(env: Environment) -> str:
    return f"{UID_PREFIX}{env.prefix}"[:40]


def canonical(model: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in model.items() if key not in VOLATILE}


class GrafanaDashboards(BaseProvider):
    kind = GRAFANA_KIND
    title = "Grafana dashboards"
    write_rate = 5.0  # no AWS operation: Grafana's HTTP API

    def __init__(self, api: GrafanaApi, env: Environment) -> None:
        self.api = api
        self.env = env
        self.folder = folder_uid(env)

    def _ensure_folder(self) -> None:
        try:
            self.api.folder.get_folder(self.folder)
        except GrafanaClientError as error:
            if error.status_code != 404:
                raise
            self.api.folder.create_folder(f"{self.env.prefix} (platform-ops)", uid=self.folder)

    def read(self, desired: Sequence[Resource]) -> list[Observed]:
        found = (
            self.api.search.search_dashboards(type_="dash-db", folder_uids=[self.folder], limit=5000) or []
        )
        uids = {hit["uid"] for hit in found} | {r.name for r in desired}
        observed = []
        for uid in sorted(uids):
            try:
                answer = self.api.dashboard.get_dashboard(uid)
            except GrafanaClientError as error:
                if error.status_code == 404:
                    continue
                raise
            model, meta = answer["dashboard"], answer.get("meta", {})
            marker = model.get(MARKER) or {}
            owned = (
                uid.startswith(UID_PREFIX)
                and OWNER_TAG in (model.get("tags") or [])
                and meta.get("folderUid") == self.folder
                and (marker.get("platform"), marker.get("environment"))
                in ((self.env.platform, self.env.name), (None, None))
            )
            observed.append(
                self.observed(
                    uid,
                    model,
                    {},  # a dashboard's ownership and fingerprint are in its JSON, not in tags
                    owned=owned,
                    applied_fingerprint=str(marker.get("fingerprint", "")),
                    version=int(meta.get("version", model.get("version", 0)) or 0),
                )
            )
        return observed

    def canonical(self, described: dict[str, Any]) -> dict[str, Any]:
        return {"dashboard": canonical(described)}

    def _write(self, resource: Resource, version: int | None) -> None:
        self._ensure_folder()
        model = dict(resource.properties["dashboard"])
        model[MARKER] = {
            "platform": self.env.platform,
            "environment": self.env.name,
            "fingerprint": resource.fingerprint,
        }
        model["id"] = None
        if version is not None:
            model["version"] = version
        try:
            self.api.dashboard.update_dashboard(
                {
                    "dashboard": model,
                    "folderUid": self.folder,
                    "overwrite": False,
                    "message": "platform-ops: ops observe apply",
                }
            )
        except GrafanaClientError as error:
            if error.status_code == 412:
                status = (error.response or {}).get("status", "") if isinstance(error.response, dict) else ""
                raise GrafanaConflict(
                    f"Grafana refused {resource.name} ({status or 'precondition failed'}): it was changed "
                    f"in Grafana since the plan, or its title is taken in the folder; plan again"
                ) from error
            raise

    def create(self, resource: Resource) -> None:
        self._write(resource, None)

    def update(self, resource: Resource, observed: Observed) -> None:
        self._write(resource, observed.version)

    def delete(self, observed: Sequence[Observed]) -> None:
        for item in observed:
            self.api.dashboard.delete_dashboard(item.name)
