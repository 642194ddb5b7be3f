"""Four-eyes approvals of a run's approval step on a protected environment.

A run that reaches an approval step without an approval stops there (resumable, nothing
after it done) and files a request; a colleague approves that run's step
(`ops runbook approve RUN_ID`), which prints a token; the operator resumes the run with it.
A token is bound to the run, the runbook, the environment and the step, is used once and
expires. Only its SHA-256 is stored: in the environment's lock table on AWS (so a colleague
on another machine can approve), in the state folder locally."""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from ops.errors import BadInput
from ops.state import StateDir, write_atomic

_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class ApprovalHeld(BadInput):
    """The run cannot pass its approval step now: the engine journals `event` with `fields`
    and stops the run there, resumable, with nothing undone."""

    event = ""

    def __init__(self, message: str, **fields: str) -> None:
        super().__init__(message)
        self.fields = fields


class ApprovalNeeded(ApprovalHeld):
    event = "approval-requested"


class ApprovalRefused(ApprovalHeld):
    event = "approval-refused"


class ApprovalStop(BaseException):  # a stop, as KeyboardInterrupt, not an error
    """Raised by the engine when a run stops at its approval step. A BaseException, as
    `Interrupted`, so that the engine's failure path (roll back what the run did) does not
    take it: the run waits, resumable; `held` is the one-line message for the operator."""

    def __init__(self, held: ApprovalHeld) -> None:
        super().__init__(str(held))
        self.held = held


@dataclass(frozen=True)
class Request:
    """A run waiting at an approval step."""

    run_id: str
    runbook: str
    environment: str
    step: str
    requester: str  # who runs it: the STS caller on AWS, `--as` or the OS user locally
    requested_at: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Grant:
    """An approval of one step of one run; stored under the token's digest."""

    run_id: str
    runbook: str
    environment: str
    step: str
    approver: str
    issued_at: str
    expires_at: float  # epoch seconds
    spent_at: str | None = None
    spent_by: str | None = None


class ApprovalStore(Protocol):
    def save_request(self, request: Request) -> None: ...
    def request(self, run_id: str) -> Request | None: ...
    def save_grant(self, digest: str, grant: Grant) -> None: ...
    def grant(self, digest: str) -> Grant | None: ...
    def spend(self, digest: str, run_id: str, at: str) -> bool:
        """Mark the grant used; False if it was used already (atomic: one winner in a race)."""
        ...

    def note_refusal(self, run_id: str, fields: dict[str, str]) -> None:
        """A refusal given where the run's journal is not: the run journals it when it resumes."""
        ...

    def refusals(self, run_id: str) -> list[dict[str, str]]: ...


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def approval_id(token_digest: str) -> str:
    """What the journal names an approval by (never the token)."""
    return token_digest[:12]


def now() -> datetime:
    return datetime.now(UTC)


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def stamp(epoch: float) -> str:
    """An expiry (epoch seconds) as the journal and the messages write it."""
    return _stamp(datetime.fromtimestamp(epoch, UTC))


def issue(
    store: ApprovalStore, request: Request, step: str, approver: str, ttl: float, at: datetime
) -> tuple[str, Grant]:
    """A new token for `step` of the requested run, approved by `approver`."""
    if approver == request.requester:
        raise ApprovalRefused(
            f"{approver} runs {request.run_id}: a colleague must approve it (four eyes); "
            "ask another person to run `ops runbook approve`",
            reason="self-approval",
            by=approver,
            step=step,
        )
    token = secrets.token_urlsafe(24)
    grant = Grant(
        run_id=request.run_id,
        runbook=request.runbook,
        environment=request.environment,
        step=step,
        approver=approver,
        issued_at=_stamp(at),
        expires_at=math.ceil(at.timestamp() + ttl),  # whole seconds: the printed expiry is exact
    )
    store.save_grant(digest(token), grant)
    return token, grant


def redeem(
    store: ApprovalStore,
    token: str,
    *,
    run_id: str,
    runbook: str,
    environment: str,
    step: str,
    presenter: str,
    at: datetime,
) -> Grant:
    """The grant the token stands for, now spent; refused with one line if it does not fit
    this run's step, was used, expired, or was issued by the person presenting it."""
    key = digest(token)
    grant = store.grant(key)

    def refuse(reason: str, message: str) -> ApprovalRefused:
        fields = {"reason": reason, "by": presenter}
        if grant is not None:
            fields["approval"] = approval_id(key)
        return ApprovalRefused(f"--approve: {message}", **fields)

    if grant is None:
        raise refuse(
            "unknown", f"no such approval in {environment}; ask for the token `ops runbook approve` printed"
        )
    if grant.spent_at:
        raise refuse("used", f"the token was used already (at {grant.spent_at}); ask for a new approval")
    if grant.environment != environment:
        raise refuse(
            "wrong-environment", f"the token approves a run on {grant.environment}, not on {environment}"
        )
    if grant.run_id != run_id or grant.runbook != runbook:
        raise refuse("wrong-run", f"the token approves run {grant.run_id}, not {run_id}")
    if grant.step != step:
        raise refuse("wrong-step", f"the token approves step {grant.step}, not {step}")
    if grant.expires_at <= at.timestamp():
        raise refuse("expired", f"the token expired at {stamp(grant.expires_at)}; ask for a new approval")
    if grant.approver == presenter:
        raise refuse("self-approval", f"{presenter} approved this run and cannot run it too (four eyes)")
    if not store.spend(key, run_id, _stamp(at)):  # another process spent it meanwhile
        raise refuse("used", "the token was used already; ask for a new approval")
    return grant


class FileStore:
    """Approvals in the state folder (the local world): a file per request and per grant,
    named by run id and by the token's digest; a grant is spent by creating its marker file
    exclusively, so only one use wins."""

    def __init__(self, state: StateDir) -> None:
        self.folder = state.root / "approvals"

    def _request_path(self, run_id: str) -> Path:
        return self.folder / "requests" / f"{run_id}.json"

    def _grant_path(self, token_digest: str) -> Path:
        return self.folder / "grants" / f"{token_digest}.json"

    def save_request(self, request: Request) -> None:
        write_atomic(self._request_path(request.run_id), json.dumps(asdict(request)))

    def request(self, run_id: str) -> Request | None:
        if not _SAFE_NAME.fullmatch(run_id):  # it names a file
            return None
        path = self._request_path(run_id)
        if not path.exists():
            return None
        return Request(**json.loads(path.read_text()))

    def note_refusal(self, run_id: str, fields: dict[str, str]) -> None:
        if _SAFE_NAME.fullmatch(run_id):
            with open(self._request_path(run_id).with_suffix(".refusals"), "a", encoding="utf-8") as out:
                out.write(json.dumps(fields) + "\n")

    def refusals(self, run_id: str) -> list[dict[str, str]]:
        path = self._request_path(run_id).with_suffix(".refusals")
        if not _SAFE_NAME.fullmatch(run_id) or not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]

    def save_grant(self, token_digest: str, grant: Grant) -> None:
        write_atomic(self._grant_path(token_digest), json.dumps(asdict(grant)))

    def grant(self, token_digest: str) -> Grant | None:
        path = self._grant_path(token_digest)
        if not path.exists():
            return None
        spent = path.with_suffix(".spent")
        fields = json.loads(path.read_text())
        if spent.exists():
            fields.update(json.loads(spent.read_text() or "{}"))
        return Grant(**fields)

    def spend(self, token_digest: str, run_id: str, at: str) -> bool:
        try:
            handle = os.open(
                self._grant_path(token_digest).with_suffix(".spent"), os.O_CREAT | os.O_EXCL | os.O_WRONLY
            )
        except FileExistsError:
            return False
        with os.fdopen(handle, "w") as out:
            out.write(json.dumps({"spent_at": at, "spent_by": run_id}))
            out.flush()
            os.fsync(out.fileno())
        return True


class DynamoStore:
    """Approvals in the environment's runbook lock table (key `target`): the request under
    `approval-request#<run id>`, a grant under `approval#<sha256 of the token>`, spent by a
    conditional update so that only one use wins."""

    def __init__(self, dynamodb: Any, table: str) -> None:
        self.dynamodb = dynamodb
        self.table = table

    def _get(self, key: str) -> dict[str, Any] | None:
        item = self.dynamodb.get_item(TableName=self.table, Key={"target": {"S": key}}, ConsistentRead=True)
        found: dict[str, Any] | None = item.get("Item")
        return found

    def save_request(self, request: Request) -> None:
        body = json.dumps(asdict(request))
        self.dynamodb.put_item(
            TableName=self.table,
            Item={"target": {"S": f"approval-request#{request.run_id}"}, "request": {"S": body}},
        )

    def request(self, run_id: str) -> Request | None:
        item = self._get(f"approval-request#{run_id}")
        return Request(**json.loads(item["request"]["S"])) if item else None

    def note_refusal(self, run_id: str, fields: dict[str, str]) -> None:
        self.dynamodb.update_item(
            TableName=self.table,
            Key={"target": {"S": f"approval-request#{run_id}"}},
            UpdateExpression="SET refusals = list_append(if_not_exists(refusals, :none), :new)",
            ExpressionAttributeValues={":none": {"L": []}, ":new": {"L": [{"S": json.dumps(fields)}]}},
        )

    def refusals(self, run_id: str) -> list[dict[str, str]]:
        item = self._get(f"approval-request#{run_id}") or {}
        return [json.loads(entry["S"]) for entry in item.get("refusals", {}).get("L", [])]

    def save_grant(self, token_digest: str, grant: Grant) -> None:
        self.dynamodb.put_item(
            TableName=self.table,
            Item={
                "target": {"S": f"approval#{token_digest}"},
                "grant": {"S": json.dumps(asdict(grant))},
                "expires_at": {"N": str(int(grant.expires_at) + 1)},  # a TTL on the table may sweep it
            },
            ConditionExpression="attribute_not_exists(#t)",
            ExpressionAttributeNames={"#t": "target"},
        )

    def grant(self, token_digest: str) -> Grant | None:
        item = self._get(f"approval#{token_digest}")
        if item is None:
            return None
        fields = json.loads(item["grant"]["S"])
        if "spent_at" in item:
            fields.update(spent_at=item["spent_at"]["S"], spent_by=item["spent_by"]["S"])
        return Grant(**fields)

    def spend(self, token_digest: str, run_id: str, at: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.dynamodb.update_item(
                TableName=self.table,
                Key={"target": {"S": f"approval#{token_digest}"}},
                UpdateExpression="SET spent_at = :at, spent_by = :run",
                ConditionExpression="attribute_exists(#t) AND attribute_not_exists(spent_at)",
                ExpressionAttributeNames={"#t": "target"},
                ExpressionAttributeValues={":at": {"S": at}, ":run": {"S": run_id}},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False
        return True
