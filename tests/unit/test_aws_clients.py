"""The client factory follows AWS conventions: adaptive retries, a user agent naming the
tool, the standard variables, and an endpoint override for the local world."""

from __future__ import annotations

import pytest

from ops import __version__
from ops.aws.clients import ENDPOINT_ENV, AwsTarget, ClientFactory

FAKE = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def test_clients_retry_adaptively_and_name_the_tool() -> None:
    client = ClientFactory(AwsTarget(region="eu-west-1", credentials=FAKE)).client("cloudwatch")
    assert client.meta.config.retries["mode"] == "adaptive"
    assert f"platform-ops/{__version__}" in client.meta.config.user_agent_extra
    assert client.meta.region_name == "eu-west-1"
    assert "amazonaws.com" in client.meta.endpoint_url


def test_an_endpoint_override_sends_every_service_there_without_host_prefixes() -> None:
    factory = ClientFactory(
        AwsTarget(region="us-east-1", endpoint_url="http://127.0.0.1:5999", credentials=FAKE)
    )
    for service in ("s3", "rds", "kafka", "mwaa"):
        client = factory.client(service)
        assert client.meta.endpoint_url == "http://127.0.0.1:5999"
        assert client.meta.config.inject_host_prefix is False


def test_the_region_comes_from_the_standard_variable_when_not_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-southeast-2")
    monkeypatch.delenv("AWS_REGION", raising=False)
    factory = ClientFactory(AwsTarget(credentials=FAKE))
    assert factory.client("sqs").meta.region_name == "ap-southeast-2"


def test_a_given_region_wins_over_the_inventory_and_the_env_endpoint_over_the_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENDPOINT_ENV, "http://127.0.0.1:4566")
    target = AwsTarget(region="eu-central-1").with_defaults(region="us-east-1", endpoint_url="http://x")
    assert target.region == "eu-central-1"
    assert target.endpoint_url == "http://127.0.0.1:4566"


def test_clients_are_cached_per_service_and_region() -> None:
    factory = ClientFactory(AwsTarget(region="us-east-1", credentials=FAKE))
    assert factory.client("s3") is factory.client("s3")
    assert factory.client("kafka", region="us-west-2").meta.region_name == "us-west-2"
    assert factory.client("kafka", region="us-west-2") is not factory.client("kafka")
