"""How the data checks reach a database: OPS_DB_ADDRESSES and the secret's form."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from ops.errors import BadInput, OpsError
from runbooks.common.rds_access import address_for, parse_overrides, read_credentials

ENDPOINT = {"Address": "db-1.abc.us-east-1.rds.amazonaws.com", "Port": 5432}


def test_the_first_matching_glob_wins_and_unmatched_instances_keep_their_endpoint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPS_DB_ADDRESSES", "prod-warehouse=127.0.0.1:15432, prod-*=127.0.0.2:15433")
    assert address_for("prod-warehouse", ENDPOINT) == ("127.0.0.1", 15432)
    assert address_for("prod-warehouse-pitr-1", ENDPOINT) == ("127.0.0.2", 15433)
    assert address_for("staging-warehouse", ENDPOINT) == (ENDPOINT["Address"], 5432)


@pytest.mark.parametrize("text", ["warehouse", "w=host", "w=host:99999", "=127.0.0.1:5432", "w=:5432"])
def test_a_malformed_map_is_bad_input_naming_the_variable(text: str) -> None:
    with pytest.raises(BadInput, match=r"^OPS_DB_ADDRESSES: .* is not IDENTIFIER=HOST:PORT"):
        parse_overrides(text)


def _secrets(value: str) -> Any:
    """A real botocore client answering from a Stubber (botocore's own test tool)."""
    client = boto3.client(
        "secretsmanager", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    stubber = Stubber(client)
    stubber.add_response("get_secret_value", {"SecretString": value}, {"SecretId": "p/e/checks"})
    stubber.activate()
    return client


def test_a_secret_without_username_and_password_is_refused_without_echoing_it() -> None:
    with pytest.raises(OpsError) as raised:
        read_credentials(_secrets('{"user": "x", "pass": "hunter2"}'), "p/e/checks")
    assert "not JSON with 'username' and 'password'" in str(raised.value)
    assert "hunter2" not in str(raised.value)
    credentials = read_credentials(_secrets('{"username": "u", "password": "hunter2"}'), "p/e/checks")
    assert credentials.username == "u" and "hunter2" not in repr(credentials)
