"""Composite alarms against botocore's Stubber (the emulator has no PutCompositeAlarm):
the Stubber checks every call's parameters against CloudWatch's service model."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.stub import ANY, Stubber

from ops.aws.clients import AwsTarget, ClientFactory
from ops.inventory import load_environment
from ops.inventory.environment import Environment
from ops.observe.desired.resources import Resolved, desired_resources
from ops.observe.providers.metric_alarms import COMPOSITE_KIND, CompositeAlarms
from ops.observe.providers.ownership import KIND_TAG
from ops.reconcile.engine import apply_plan, make_plan
from ops.reconcile.model import Action, Resource
from ops.reconcile.provider import FINGERPRINT_TAG
from tests.helpers import INVENTORY

ARN = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:"


@pytest.fixture
def factory() -> ClientFactory:
    creds = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    # A closed loopback port: a call the Stubber does not answer fails here, never leaves.
    target = AwsTarget(region="us-east-1", endpoint_url="http://127.0.0.1:9", credentials=creds)
    return ClientFactory(target, max_attempts=0)


@pytest.fixture
def stubs(factory: ClientFactory) -> Iterator[tuple[Stubber, Stubber]]:
    cloudwatch = Stubber(factory.client("cloudwatch"))
    tagging = Stubber(factory.client("resourcegroupstaggingapi"))
    with cloudwatch, tagging:
        yield cloudwatch, tagging
    cloudwatch.assert_no_pending_responses()
    tagging.assert_no_pending_responses()


def _desired_composite() -> tuple[Environment, Resource]:
    env = load_environment("staging", INVENTORY)
    ids = {
        "lookup:apigatewayv2:dataplat-staging-ingest": "a1b2c3",
        "lookup:emr:dataplat-staging-spark": "j-1",
    }
    resources = desired_resources(env, Resolved("123456789012", ids))
    (composite,) = [r for r in resources if r.kind == COMPOSITE_KIND]
    return env, composite


def test_a_missing_composite_is_created_with_its_rule_actions_and_tags(factory, stubs) -> None:  # type: ignore[no-untyped-def]
    cloudwatch, tagging = stubs
    env, composite = _desired_composite()
    provider = CompositeAlarms(factory, env, [env.region], write_rate=100)
    pages = {"ResourcesPerPage": 100, "TagsPerPage": 500}
    tagging.add_response(
        "get_resources",
        {"ResourceTagMappingList": []},
        {"ResourceTypeFilters": ["cloudwatch:alarm"], "TagFilters": ANY, **pages},
    )
    cloudwatch.add_response(
        "describe_alarms",
        {"CompositeAlarms": []},
        {"AlarmNames": [composite.name], "AlarmTypes": ["CompositeAlarm"], "MaxRecords": 100},
    )
    plan = make_plan(env.name, [composite], [provider])
    assert [c.action for c in plan.changes] == [Action.CREATE]
    expected = {
        "AlarmName": composite.name,
        "AlarmRule": composite.properties["AlarmRule"],
        "AlarmDescription": ANY,
        "ActionsEnabled": True,
        "AlarmActions": ["arn:aws:sns:us-east-1:123456789012:dataplat-staging-alerts-critical"],
        "OKActions": ["arn:aws:sns:us-east-1:123456789012:dataplat-staging-alerts-critical"],
        "Tags": ANY,
    }
    cloudwatch.add_response("put_composite_alarm", {}, expected)
    result = apply_plan(plan, [provider])
    assert not result.failed and len(result.applied) == 1
    assert 'ALARM("dataplat-staging-ingest-api-5xx-rate-critical")' in composite.properties["AlarmRule"]


def test_an_owned_composite_no_longer_desired_is_deleted_alone(factory, stubs) -> None:  # type: ignore[no-untyped-def]
    cloudwatch, tagging = stubs
    env, _ = _desired_composite()
    provider = CompositeAlarms(factory, env, [env.region], write_rate=100)
    tags = [
        {"Key": "platform-ops:platform", "Value": "dataplat"},
        {"Key": "platform-ops:environment", "Value": "staging"},
        {"Key": KIND_TAG, "Value": COMPOSITE_KIND},
        {"Key": FINGERPRINT_TAG, "Value": "0123456789abcdef"},
    ]
    mappings = [{"ResourceARN": f"{ARN}old-{i}", "Tags": tags} for i in range(2)]
    tagging.add_response("get_resources", {"ResourceTagMappingList": mappings}, None)
    existing = [
        {"AlarmName": f"old-{i}", "AlarmArn": f"{ARN}old-{i}", "AlarmRule": 'ALARM("x")'} for i in range(2)
    ]
    cloudwatch.add_response(
        "describe_alarms",
        {"CompositeAlarms": existing},
        {"AlarmNames": ["old-0", "old-1"], "AlarmTypes": ["CompositeAlarm"], "MaxRecords": 100},
    )
    plan = make_plan(env.name, [], [provider])
    assert [(c.name, c.action) for c in plan.changes] == [("old-0", Action.DELETE), ("old-1", Action.DELETE)]
    # DeleteAlarms takes one composite alarm a call
    cloudwatch.add_response("delete_alarms", {}, {"AlarmNames": ["old-0"]})
    cloudwatch.add_response("delete_alarms", {}, {"AlarmNames": ["old-1"]})
    result = apply_plan(plan, [provider])
    assert len(result.applied) == 2 and not result.failed
