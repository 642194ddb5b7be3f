"""The reconcile engine's decisions: what to create, update, delete, leave alone."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ops.aws.clients import AwsTarget, ClientFactory
from ops.inventory import load_environment
from ops.local.emulator import emulator_target
from ops.observe.planning import kinds_for, providers_for, unavailable
from ops.reconcile.diff import diff
from ops.reconcile.model import Action, Observed, Resource, fingerprint, plan_change
from ops.reconcile.provider import FINGERPRINT_TAG, BaseProvider
from ops.reconcile.ratelimit import RateLimiter
from tests.helpers import INVENTORY

TAGS = {"platform-ops:platform": "p"}


def _desired(**properties: object) -> Resource:
    return Resource("alarm", "a", dict(properties), TAGS)


def _observed(
    properties: dict[str, object], owned: bool = True, applied: dict[str, object] | None = None
) -> Observed:
    applied_fp = fingerprint(applied if applied is not None else properties)
    return Observed("a", properties, TAGS if owned else {}, owned=owned, applied_fingerprint=applied_fp)


def test_missing_resources_are_created() -> None:
    assert plan_change("alarm", _desired(Threshold=1.0), None).action is Action.CREATE


def test_equal_resources_need_nothing() -> None:
    change = plan_change("alarm", _desired(Threshold=1.0), _observed({"Threshold": 1.0}))
    assert change.action is Action.NOOP and not change.pending


def test_a_code_change_is_an_update_with_the_field_named() -> None:
    change = plan_change(
        "alarm", _desired(Threshold=80.0, Period=60), _observed({"Threshold": 90.0, "Period": 60})
    )
    assert change.action is Action.UPDATE
    assert [(f.path, f.before, f.after) for f in change.fields] == [("Threshold", 90.0, 80.0)]
    assert change.reason == "the code changed"


def test_an_out_of_band_edit_is_told_apart_from_a_code_change() -> None:
    edited = _observed({"Threshold": 50.0}, applied={"Threshold": 90.0})
    assert edited.drifted
    change = plan_change("alarm", _desired(Threshold=90.0), edited)
    assert change.action is Action.UPDATE and "out of band" in change.reason


def test_what_we_do_not_own_is_never_touched() -> None:
    change = plan_change("alarm", _desired(Threshold=1.0), _observed({"Threshold": 5.0}, owned=False))
    assert change.action is Action.SKIP and not change.pending


def test_what_we_own_and_no_longer_want_is_pruned_unless_pruning_destroys_data() -> None:
    orphan = _observed({"retentionInDays": 30})
    assert plan_change("alarm", None, orphan).action is Action.DELETE
    kept = plan_change("log-group", None, orphan, prunes=False)
    assert kept.action is Action.SKIP and "deletes data" in kept.reason


def test_kinds_we_do_not_create_are_skipped_when_missing() -> None:
    assert plan_change("container-insights", _desired(x=1), None, creates=False).action is Action.SKIP


def test_diff_walks_nested_properties() -> None:
    before = {"Metrics": [{"Id": "m1", "MetricStat": {"Period": 60}}], "Gone": 1}
    after = {"Metrics": [{"Id": "m1", "MetricStat": {"Period": 300}}], "New": 2}
    assert {str(c) for c in diff(before, after)} == {
        "Metrics[0].MetricStat.Period: 60 -> 300",
        "Gone: 1 -> (absent)",
        "New: (absent) -> 2",
    }


def test_the_rate_limiter_spaces_writes_by_its_rate() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(rate=3, clock=lambda: now[0], sleep=sleep)
    for _ in range(7):
        limiter.acquire()
    # one token at start, then one every 1/3 s: 6 more tokens take 2 s of simulated time
    assert abs(now[0] - 2.0) < 1e-9
    assert all(abs(s - 1 / 3) < 1e-9 for s in slept)


class _Settings(BaseProvider):
    """A provider that says only what is its own: the defaults do the rest."""

    kind = "setting"
    title = "settings"

    def __init__(self) -> None:
        self.written: list[str] = []

    def read(self, desired: Sequence[Resource]) -> list[Observed]:
        described = {"Value": 1, "Noise": "set by the service"}
        return [self.observed("a", described, {**TAGS, FINGERPRINT_TAG: "f"}, owned=True, arn="arn:a")]

    def canonical(self, described: dict[str, Any]) -> dict[str, Any]:
        return {"Value": described["Value"]}

    def create(self, resource: Resource) -> None:
        self.written.append(resource.name)


def test_the_base_provider_reads_in_canonical_form_with_the_applied_fingerprint_from_its_tag() -> None:
    provider = _Settings()
    (found,) = provider.read([])
    assert found.properties == {"Value": 1} and found.applied_fingerprint == "f" and found.arn == "arn:a"
    defaults = (provider.delete_batch, provider.creates, provider.prunes, provider.needs)
    assert defaults == (1, True, True, frozenset())


def test_the_base_provider_writes_tags_with_the_fingerprint_and_updates_by_writing_again() -> None:
    provider, wanted = _Settings(), _desired(Value=2)
    assert provider.tags_to_write(wanted) == {**TAGS, FINGERPRINT_TAG: wanted.fingerprint}
    assert provider.fingerprint_tag(wanted) == {FINGERPRINT_TAG: wanted.fingerprint}
    provider.update(wanted, provider.read([wanted])[0])
    assert provider.written == ["a"]


def test_a_kind_whose_writes_the_target_lacks_is_left_out_and_said_so() -> None:
    env = load_environment("local", INVENTORY)
    creds = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    factory = ClientFactory(AwsTarget(region=env.region, credentials=creds))
    providers = providers_for(factory, env, kinds_for(None), None)
    assert unavailable(providers, AwsTarget()) == []
    emulator = emulator_target(4566, env.region)  # only its description: nothing is contacted
    assert unavailable(providers, emulator) == [
        "not planned: composite alarms (the emulator has no PutCompositeAlarm)"
    ]
    only_alarms = providers_for(factory, env, kinds_for(["alarm"]), None)
    assert unavailable(only_alarms, emulator) == []
