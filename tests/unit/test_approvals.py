"""The rules of an approval token (ops/runbook/approvals.py) on the state folder's store:
bound to a run, its runbook, its environment and its step; used once, even under a race;
expires; never the requester's own; only its digest kept. And the inventory's lifetime."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ops.errors import BadInput, ExitCode
from ops.inventory import load_inventory
from ops.runbook.approvals import ApprovalRefused, FileStore, Grant, Request, digest, issue, redeem
from ops.state import StateDir
from tests.helpers import INVENTORY

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
REQUEST = Request("rds-pitr-1", "rds-pitr", "prod", "approve-cutover", "alice", NOW.isoformat(), {})


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    return FileStore(StateDir(tmp_path))


def _redeem(
    store: FileStore,
    token: str,
    *,
    run_id: str = "rds-pitr-1",
    runbook: str = "rds-pitr",
    environment: str = "prod",
    step: str = "approve-cutover",
    presenter: str = "alice",
    at: datetime = NOW + timedelta(minutes=1),
) -> Grant:
    """Redeem as run rds-pitr-1's operator would, but for what the test changes."""
    return redeem(
        store,
        token,
        run_id=run_id,
        runbook=runbook,
        environment=environment,
        step=step,
        presenter=presenter,
        at=at,
    )


def _refused(store: FileStore, token: str, **overrides: Any) -> ApprovalRefused:
    with pytest.raises(ApprovalRefused) as caught:
        _redeem(store, token, **overrides)
    assert caught.value.exit_code == ExitCode.BAD_INPUT and "\n" not in str(caught.value)
    return caught.value


def test_a_token_fits_its_run_once(store: FileStore) -> None:
    token, _ = issue(store, REQUEST, "approve-cutover", "bob", 3600, NOW)
    assert _redeem(store, token).approver == "bob"
    refused = _refused(store, token)
    assert refused.fields["reason"] == "used" and "used already" in str(refused)


@pytest.mark.parametrize(
    ("overrides", "reason", "says"),
    [
        ({"environment": "staging"}, "wrong-environment", "approves a run on prod, not on staging"),
        ({"run_id": "rds-pitr-2"}, "wrong-run", "approves run rds-pitr-1, not rds-pitr-2"),
        ({"runbook": "msk-failover"}, "wrong-run", "approves run rds-pitr-1"),
        ({"step": "approve-failback"}, "wrong-step", "approves step approve-cutover, not approve-failback"),
        ({"at": NOW + timedelta(hours=1)}, "expired", "expired at 2026-12-01T13:00:00+00:00"),
        ({"presenter": "bob"}, "self-approval", "bob approved this run"),
    ],
)
def test_a_token_that_does_not_fit_is_refused_and_stays_unspent(
    store: FileStore, overrides: dict[str, Any], reason: str, says: str
) -> None:
    token, _ = issue(store, REQUEST, "approve-cutover", "bob", 3600, NOW)
    refused = _refused(store, token, **overrides)
    assert refused.fields["reason"] == reason and says in str(refused)
    assert "approval" in refused.fields and token not in str(refused.fields)
    assert _redeem(store, token).approver == "bob"  # the right run can still use it


def test_an_unknown_token_is_refused(store: FileStore) -> None:
    refused = _refused(store, "made-up")
    assert refused.fields["reason"] == "unknown" and "approval" not in refused.fields


def test_no_one_approves_their_own_request(store: FileStore) -> None:
    with pytest.raises(ApprovalRefused) as caught:
        issue(store, REQUEST, "approve-cutover", "alice", 3600, NOW)
    assert caught.value.fields["reason"] == "self-approval" and "a colleague must approve" in str(
        caught.value
    )
    assert not (store.folder / "grants").exists()


def test_only_one_of_many_simultaneous_uses_wins(store: FileStore) -> None:
    token, _ = issue(store, REQUEST, "approve-cutover", "bob", 3600, NOW)
    start = threading.Barrier(8)
    outcomes: list[str] = []

    def use() -> None:
        start.wait()
        try:
            outcomes.append(_redeem(store, token).approver)
        except ApprovalRefused as refused:
            outcomes.append(refused.fields["reason"])

    threads = [threading.Thread(target=use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["bob"] + ["used"] * 7


def test_only_the_tokens_digest_is_kept(store: FileStore) -> None:
    token, _ = issue(store, REQUEST, "approve-cutover", "bob", 3600, NOW)
    _redeem(store, token)
    files = [p for p in store.folder.rglob("*") if p.is_file()]
    assert {p.stem for p in files} == {digest(token)}
    assert not any(token in p.read_text() for p in files)


def test_a_request_is_read_back_and_a_path_is_no_run_id(store: FileStore) -> None:
    store.save_request(REQUEST)
    assert store.request("rds-pitr-1") == REQUEST
    assert store.request("../rds-pitr-1") is None


def test_the_lifetime_is_set_per_environment_in_the_inventory(tmp_path: Path) -> None:
    text = INVENTORY.read_text().replace(
        "    provider: aws\n    protected: true\n",
        "    provider: aws\n    protected: true\n    runbook_settings: {approval_ttl: 15m}\n",
    )
    (tmp_path / "platform.yaml").write_text(text)
    inventory = load_inventory(tmp_path / "platform.yaml")
    assert inventory.environment("prod").spec.runbook_settings.approval_ttl == 900
    assert inventory.environment("staging").spec.runbook_settings.approval_ttl == 3600  # the default


@pytest.mark.parametrize("value", ["soon", "0s", "-5m"])
def test_a_bad_lifetime_is_one_line_naming_the_field(tmp_path: Path, value: str) -> None:
    text = INVENTORY.read_text().replace(
        "    provider: aws\n    protected: true\n",
        f"    provider: aws\n    protected: true\n    runbook_settings: {{approval_ttl: {value}}}\n",
    )
    (tmp_path / "platform.yaml").write_text(text)
    with pytest.raises(BadInput) as caught:
        load_inventory(tmp_path / "platform.yaml").environment("prod")
    lines = str(caught.value).splitlines()
    assert len(lines) == 1 and "runbook_settings.approval_ttl" in lines[0] and "platform.yaml:" in lines[0]


def test_refusals_kept_for_the_run_are_read_back_in_order(store: FileStore) -> None:
    store.save_request(REQUEST)
    store.note_refusal("rds-pitr-1", {"reason": "wrong-step", "refusal": "a"})
    store.note_refusal("rds-pitr-1", {"reason": "self-approval", "refusal": "b"})
    assert [r["refusal"] for r in store.refusals("rds-pitr-1")] == ["a", "b"]
    assert store.refusals("rds-pitr-2") == []
