"""The four-eyes approval process around a run: who acts (STS on AWS, `--as` locally),
where approvals live (the lock table on AWS, the state folder locally), the run's approver
(a token redeemed, or a request filed and the run stopped there), and a colleague's
approval of a waiting run. The token rules themselves are in approvals.py."""

from __future__ import annotations

import getpass
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from ops.errors import BadInput
from ops.runbook import approvals
from ops.runbook.approvals import (
    ApprovalNeeded,
    ApprovalRefused,
    ApprovalStore,
    DynamoStore,
    FileStore,
    Grant,
    Request,
)
from ops.runbook.engine import Approver, parse_params, runs_dir
from ops.runbook.host import RunHost
from ops.runbook.journal import Journal, RunRecord
from ops.runbook.model import Runbook, Step, StepKind

if TYPE_CHECKING:
    from ops.aws.clients import ClientFactory
    from ops.inventory.environment import Environment


def identity(host: RunHost, env: Environment, aws: Callable[[], ClientFactory]) -> str:
    """Who acts: on AWS the caller's ARN (STS), which no flag can change; locally `--as`,
    else the OS user."""
    if env.provider == "aws":
        if host.operator:
            raise BadInput(f"--as: on AWS ({env.name}) you are who your credentials say; drop --as")
        arn: str = aws().client("sts").get_caller_identity()["Arn"]
        return arn
    if host.operator:
        return host.operator
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a user id with no name (some containers)
        raise BadInput("--as NAME: say who you are; this OS user has no name") from None


def approval_store(host: RunHost, env: Environment, aws: Callable[[], ClientFactory]) -> ApprovalStore:
    """Where an environment's approvals live: its lock table on AWS, so a colleague on
    another machine can approve; the state folder locally."""
    if env.provider != "aws":
        return FileStore(host.state)
    table = env.spec.runbook_settings.lock_table
    if not table:
        raise BadInput(
            f"environment {env.name!r} keeps approvals in its runbook lock table: set "
            f"environments.{env.name}.runbook_settings.lock_table in the inventory"
        )
    return DynamoStore(aws().client("dynamodb"), table)


def approver_for(
    host: RunHost,
    env: Environment,
    aws: Callable[[], ClientFactory],
    runbook: Runbook,
    run_id: str,
    params: Any,
    token: str | None,
) -> Approver:
    """The run's approval: the token redeemed; locally in a terminal, a name asked for;
    else a request filed and the run stops there (ApprovalNeeded)."""

    def approve(step: Step) -> str | None:
        store = approval_store(host, env, aws)
        me = identity(host, env, aws)
        _journal_remote_refusals(Journal(runs_dir(host.state) / run_id), store.refusals(run_id))
        if token:
            grant = approvals.redeem(
                store,
                token,
                run_id=run_id,
                runbook=runbook.name,
                environment=env.name,
                step=step.id,
                presenter=me,
                at=approvals.now(),
            )
            _journal_issued(Journal(runs_dir(host.state) / run_id), token, grant)
            return grant.approver
        if host.ask is not None and env.provider == "local":
            name = host.ask(f"{step.title} on protected {env.name!r}: your name to approve (empty: no)")
            if name and name == me:
                raise ApprovalRefused(
                    f"{me} runs {run_id}: a colleague must approve it (four eyes)",
                    reason="self-approval",
                    by=me,
                )
            if name:
                return name
        moment = approvals.now().isoformat(timespec="seconds")
        params_json = params.model_dump(mode="json")
        store.save_request(Request(run_id, runbook.name, env.name, step.id, me, moment, params_json))
        raise ApprovalNeeded(
            f"run {run_id} waits at {step.id} for an approval on protected {env.name!r}: a colleague "
            f"runs `ops runbook approve {run_id} --env {env.name}`, then you "
            f"`ops runbook resume {run_id} --approve TOKEN`",
            requester=me,
        )

    return approve


def _journal_remote_refusals(journal: Journal, refusals: list[dict[str, str]]) -> None:
    """Refusals `approve` gave on another machine, into the run's journal once each."""
    journaled = {e.get("refusal") for e in journal.events() if e["event"] == "approval-refused"}
    for refusal in refusals:
        if refusal.get("refusal") not in journaled:
            journal.append("approval-refused", **refusal)


def _journal_issued(journal: Journal, token: str, grant: Grant) -> None:
    """The approval in the run's journal, if the approver was on another machine."""
    key = approvals.approval_id(approvals.digest(token))
    if any(e["event"] == "approval-issued" and e.get("approval") == key for e in journal.events()):
        return
    journal.append(
        "approval-issued",
        step=grant.step,
        approval=key,
        approver=grant.approver,
        issued_at=grant.issued_at,
        expires_at=approvals.stamp(grant.expires_at),
    )


@dataclass
class IssuedApproval:
    token: str
    grant: Grant
    expires_at: str


def approve_run(
    host: RunHost,
    run_id: str,
    env_name: str | None,
    step_id: str | None,
    runbook_of: Callable[[str], Runbook],
    env_of: Callable[[str], Environment],
) -> IssuedApproval:
    """A colleague approves a run waiting at its approval step: a token for that run, its
    runbook, its environment and its step, used once, valid `approval_ttl`. Refusals are
    one line (exit 2) and journaled in the run's journal when it is on this machine."""
    journal = Journal(runs_dir(host.state) / run_id)
    record = RunRecord.from_journal(run_id, journal) if journal.exists else None
    try:
        return _approve(host, run_id, record, env_name, step_id, runbook_of, env_of)
    except ApprovalRefused as refused:
        if record is not None:
            journal.append(refused.event, message=str(refused), **refused.fields)
        raise


def _approve(
    host: RunHost,
    run_id: str,
    record: RunRecord | None,
    env_name: str | None,
    step_id: str | None,
    runbook_of: Callable[[str], Runbook],
    env_of: Callable[[str], Environment],
) -> IssuedApproval:
    if record is None and env_name is None:
        raise BadInput(
            f"run {run_id!r}: no journal on this machine; name its environment with --env to read "
            "its approval request from that environment"
        )
    if record is not None and env_name is not None and env_name != record.environment:
        raise ApprovalRefused(
            f"--env: run {run_id} is on {record.environment}, not on {env_name}", reason="wrong-environment"
        )
    env = env_of(record.environment if record is not None else str(env_name))
    if not env.protected:
        raise BadInput(f"environment {env.name!r} is not protected: its runs need no approval")
    aws = cache(lambda: host.aws_for(env))
    store = approval_store(host, env, aws)
    approver = identity(host, env, aws)
    if record is not None and record.status in ("completed", "aborted"):
        raise ApprovalRefused(
            f"run {run_id} is {record.status}: nothing to approve", reason="run-ended", by=approver
        )
    request = store.request(run_id)
    if request is None or request.environment != env.name:
        raise BadInput(
            f"run {run_id} has not asked for an approval on {env.name}: a run asks when it reaches its "
            f"approval step (`ops runbook status {run_id}`)"
        )
    runbook = runbook_of(request.runbook)
    params = parse_params(runbook, request.params)
    gates = [s.id for s in runbook.steps(env, params) if s.kind is StepKind.APPROVAL]
    step = step_id or request.step
    try:
        if step not in gates:
            raise ApprovalRefused(
                f"--step {step}: not an approval step of run {run_id} "
                f"(its approval steps: {', '.join(gates)})",
                reason="wrong-step",
                by=approver,
                step=step,
            )
        ttl = env.spec.runbook_settings.approval_ttl
        token, grant = approvals.issue(store, request, step, approver, ttl, approvals.now())
    except ApprovalRefused as refused:
        if record is None:  # the run's journal is on another machine: it reads this when it resumes
            at = approvals.now().isoformat(timespec="seconds")
            refusal = {
                "message": str(refused),
                **refused.fields,
                "refused_at": at,
                "refusal": secrets.token_hex(4),
            }
            store.note_refusal(run_id, refusal)
        raise
    if record is not None:
        _journal_issued(Journal(runs_dir(host.state) / run_id), token, grant)
    return IssuedApproval(token, grant, approvals.stamp(grant.expires_at))
