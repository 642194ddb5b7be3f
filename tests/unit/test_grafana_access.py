"""Managed Grafana: a short-lived service-account token made for the run and deleted after
it, even when the run fails. The emulator has no Managed Grafana API: botocore's Stubber
checks each call against the service model."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import ANY, Stubber

from ops.errors import OpsError
from ops.observe.grafana_access import SERVICE_ACCOUNT, TOKEN_SECONDS, managed_token

WORKSPACE = {
    "id": "g-abc123",
    "name": "dataplat-prod-observability",
    "endpoint": "g-abc123.grafana-workspace.example",
    "authentication": {"providers": ["AWS_SSO"]},
    "created": datetime(2026, 1, 1, tzinfo=UTC),
    "grafanaVersion": "10.4",
    "modified": datetime(2026, 1, 1, tzinfo=UTC),
    "status": "ACTIVE",
}


def _stubbed(has_account: bool) -> tuple[object, Stubber]:
    client = boto3.client(
        "grafana", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    stubber = Stubber(client)
    stubber.add_response("list_workspaces", {"workspaces": [WORKSPACE]}, {})
    account = {"id": "sa-1", "name": SERVICE_ACCOUNT, "grafanaRole": "EDITOR", "isDisabled": "false"}
    listed = {"serviceAccounts": [account] if has_account else [], "workspaceId": "g-abc123"}
    stubber.add_response("list_workspace_service_accounts", listed, {"workspaceId": "g-abc123"})
    if not has_account:
        created = {k: account[k] for k in ("id", "name", "grafanaRole")} | {"workspaceId": "g-abc123"}
        expected = {"workspaceId": "g-abc123", "name": SERVICE_ACCOUNT, "grafanaRole": "EDITOR"}
        stubber.add_response("create_workspace_service_account", created, expected)
    token = {"id": "tok-1", "key": "glsa_secret", "name": "x"}
    stubber.add_response(
        "create_workspace_service_account_token",
        {"serviceAccountId": "sa-1", "serviceAccountToken": token, "workspaceId": "g-abc123"},
        {"workspaceId": "g-abc123", "serviceAccountId": "sa-1", "name": ANY, "secondsToLive": TOKEN_SECONDS},
    )
    stubber.add_response(
        "delete_workspace_service_account_token",
        {"serviceAccountId": "sa-1", "tokenId": "tok-1", "workspaceId": "g-abc123"},
        {"workspaceId": "g-abc123", "serviceAccountId": "sa-1", "tokenId": "tok-1"},
    )
    stubber.activate()
    return client, stubber


@pytest.mark.parametrize("has_account", [True, False])
def test_a_token_is_made_for_the_run_and_deleted_after_it(has_account: bool) -> None:
    client, stubber = _stubbed(has_account)
    with managed_token(client, "dataplat-prod-observability") as (endpoint, token):
        assert endpoint == WORKSPACE["endpoint"] and token == "glsa_secret"
    stubber.assert_no_pending_responses()  # the delete was called


def test_the_token_is_deleted_even_when_the_run_fails() -> None:
    client, stubber = _stubbed(True)
    with pytest.raises(RuntimeError), managed_token(client, "dataplat-prod-observability"):
        raise RuntimeError("the apply failed")
    stubber.assert_no_pending_responses()


def test_a_missing_workspace_is_one_line_naming_it() -> None:
    client = boto3.client(
        "grafana", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    stubber = Stubber(client)
    stubber.add_response("list_workspaces", {"workspaces": []}, {})
    stubber.activate()
    with (
        pytest.raises(OpsError, match="workspace dataplat-prod-observability not found"),
        managed_token(client, "dataplat-prod-observability"),
    ):
        pass
