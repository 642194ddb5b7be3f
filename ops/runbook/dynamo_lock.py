"""One run per target on AWS: a DynamoDB item per target, written with a conditional put
(free, expired, or ours when resuming). A lease that expired is stale and is taken over."""

from __future__ import annotations

import os
import socket
import time
from typing import Any

import psutil
from botocore.exceptions import ClientError

from ops.errors import BadInput
from ops.runbook.journal import now

LEASE_SECONDS = 4 * 3600  # longer than any runbook; released at the end of every run


class DynamoLock:
    def __init__(self, dynamodb: Any, table: str, target: str, run_id: str) -> None:
        self.dynamodb = dynamodb
        self.table = table
        self.target = target
        self.run_id = run_id

    def acquire(self) -> None:
        moment = int(time.time())
        item = {
            "target": {"S": self.target},
            "run_id": {"S": self.run_id},
            "host": {"S": socket.gethostname()},
            "pid": {"N": str(os.getpid())},
            "since": {"S": now()},
            "expires_at": {"N": str(moment + LEASE_SECONDS)},
        }
        # Free, expired, or held by this very process.
        condition = (
            "attribute_not_exists(#t) OR expires_at < :now OR (run_id = :run AND pid = :pid AND host = :host)"
        )
        values = {
            ":now": {"N": str(moment)},
            ":run": {"S": self.run_id},
            ":pid": item["pid"],
            ":host": item["host"],
        }
        if self._put(item, condition, values):
            return
        holder = self._holder()
        if holder.get("run_id", {}).get("S") == self.run_id and "waiting" in holder:
            # Our run, stopped at its approval step: resumed or aborted now (by another
            # process, perhaps on another machine that has its journal).
            if self._put(item, "run_id = :run AND attribute_exists(waiting)", {":run": values[":run"]}):
                return
            holder = self._holder()
        if holder.get("run_id", {}).get("S") == self.run_id and self._dead_here(holder):
            # Our run's earlier process died on this machine: take over its lease, unless
            # another process takes it over first.
            took = self._put(
                item,
                "run_id = :run AND pid = :old_pid AND host = :host",
                {":run": values[":run"], ":host": values[":host"], ":old_pid": holder["pid"]},
            )
            if took:
                return
            holder = self._holder()
        raise BadInput(self._held_message(holder)) from None

    def _put(self, item: dict[str, Any], condition: str, values: dict[str, Any]) -> bool:
        try:
            self.dynamodb.put_item(
                TableName=self.table,
                Item=item,
                ConditionExpression=condition,
                ExpressionAttributeNames={"#t": "target"} if "#t" in condition else {},
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False
        return True

    def _holder(self) -> dict[str, Any]:
        found: dict[str, Any] = self.dynamodb.get_item(
            TableName=self.table, Key={"target": {"S": self.target}}
        ).get("Item", {})
        return found

    @staticmethod
    def _dead_here(holder: dict[str, Any]) -> bool:
        """Its process ran on this machine and is gone (another machine's is never judged)."""
        if holder.get("host", {}).get("S") != socket.gethostname() or "pid" not in holder:
            return False
        try:
            return bool(psutil.Process(int(holder["pid"]["N"])).status() == psutil.STATUS_ZOMBIE)
        except psutil.NoSuchProcess:
            return True

    def _held_message(self, holder: dict[str, Any]) -> str:
        run, host, since, pid = (
            holder.get(key, {}).get(kind, "?")
            for key, kind in (("run_id", "S"), ("host", "S"), ("since", "S"), ("pid", "N"))
        )
        if "waiting" in holder:
            return (
                f"{self.target} is held by run {run}, which waits for an approval (since {since}, in "
                f"{self.table}); approve and resume it, or `ops runbook abort {run}`"
            )
        if run == self.run_id:
            return (
                f"run {run} is still running (pid {pid} on {host}, since {since}, in {self.table}); "
                "stop that process first (Ctrl-C rolls it back), or wait for its lease to expire"
            )
        return (
            f"{self.target} is locked by run {run} (since {since}, in {self.table}); "
            f"wait for it, or `ops runbook abort {run}`"
        )

    def hold_while_waiting(self) -> None:
        """The run stopped to wait for an approval: the lease stays, marked as the run's and
        renewed for a full lease from now, until the run resumes or is aborted (from the
        machine that holds its journal)."""
        try:
            self.dynamodb.update_item(
                TableName=self.table,
                Key={"target": {"S": self.target}},
                UpdateExpression="SET waiting = :yes, expires_at = :until",
                ConditionExpression="run_id = :run",
                ExpressionAttributeValues={
                    ":yes": {"BOOL": True},
                    ":run": {"S": self.run_id},
                    ":until": {"N": str(int(time.time()) + LEASE_SECONDS)},
                },
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def release(self) -> None:
        try:
            self.dynamodb.delete_item(
                TableName=self.table,
                Key={"target": {"S": self.target}},
                ConditionExpression="run_id = :run",
                ExpressionAttributeValues={":run": {"S": self.run_id}},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise  # someone else's lock now: not ours to delete
