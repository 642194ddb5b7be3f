"""How `ops observe` reaches Grafana: a given URL and token (OPS_GRAFANA_URL,
OPS_GRAFANA_TOKEN: any Grafana), or the environment's Managed Grafana workspace through a
short-lived service-account token made for the run with boto3's `grafana` API and deleted
after it (the token is never printed or journaled)."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError
from grafana_client.api import GrafanaApi

from ops.errors import BadInput, OpsError
from ops.inventory.components import Grafana
from ops.inventory.environment import Environment

URL_ENV, TOKEN_ENV = "OPS_GRAFANA_URL", "OPS_GRAFANA_TOKEN"
SERVICE_ACCOUNT = "platform-ops"
TOKEN_SECONDS = 900  # long enough for a plan and an apply; gone soon after


def _api(url: str, token: str) -> GrafanaApi:
    return GrafanaApi.from_url(url, credential=token, timeout=10.0)


@contextlib.contextmanager
def grafana_session(aws: Any, env: Environment) -> Iterator[GrafanaApi | None]:
    """A Grafana API for the run, or None when the environment has none to reach."""
    url = os.environ.get(URL_ENV)
    if url:
        token = os.environ.get(TOKEN_ENV)
        if not token:
            raise BadInput(
                f"{TOKEN_ENV}: not set; {URL_ENV} needs a service-account token with the Editor role"
            )
        yield _api(url, token)
        return
    workspaces = env.components_of(Grafana)
    if env.provider == "local" or not workspaces:
        yield None  # the emulator has no Managed Grafana
        return
    (component,) = workspaces.values()
    with managed_token(aws.client("grafana"), env.resource_name(component.workspace_name)) as (
        endpoint,
        token,
    ):
        yield _api(f"https://{endpoint}", token)


@contextlib.contextmanager
def managed_token(grafana: Any, workspace_name: str) -> Iterator[tuple[str, str]]:
    """(endpoint, token) of a Managed Grafana workspace; the token is deleted on the way out."""
    try:
        workspace = next(
            (
                w
                for page in grafana.get_paginator("list_workspaces").paginate()
                for w in page["workspaces"]
                if w["name"] == workspace_name
            ),
            None,
        )
        if workspace is None:
            raise OpsError(
                f"Managed Grafana workspace {workspace_name} not found (terraform/modules/observability)"
            )
        workspace_id = workspace["id"]
        accounts = grafana.list_workspace_service_accounts(workspaceId=workspace_id)["serviceAccounts"]
        account = next((a for a in accounts if a["name"] == SERVICE_ACCOUNT), None)
        if account is None:
            account = grafana.create_workspace_service_account(
                workspaceId=workspace_id, name=SERVICE_ACCOUNT, grafanaRole="EDITOR"
            )
        created = grafana.create_workspace_service_account_token(
            workspaceId=workspace_id,
            serviceAccountId=account["id"],
            name=f"{SERVICE_ACCOUNT}-{secrets.token_hex(4)}",
            secondsToLive=TOKEN_SECONDS,
        )
    except ClientError as error:
        raise OpsError(
            f"Managed Grafana {workspace_name}: {error.response['Error']['Code']}: {error}"
        ) from error
    token = created["serviceAccountToken"]
    try:
        yield workspace["endpoint"], token["key"]
    finally:
        with contextlib.suppress(ClientError):
            grafana.delete_workspace_service_account_token(
                workspaceId=workspace_id, serviceAccountId=account["id"], tokenId=token["id"]
            )
