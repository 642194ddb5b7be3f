"""One run per target on AWS: a DynamoDB item per target, written with a conditional put
(free, expired, or ours when resuming). A lease that expired is stale and is taken over."""

from __future__ import annotations

import socket
import time
from typing import Any

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
            "since": {"S": now()},
            "expires_at": {"N": str(moment + LEASE_SECONDS)},
        }
        try:
            self.dynamodb.put_item(
                TableName=self.table,
                Item=item,
                ConditionExpression="attribute_not_exists(#t) OR expires_at < :now OR run_id = :run",
                ExpressionAttributeNames={"#t": "target"},
                ExpressionAttributeValues={":now": {"N": str(moment)}, ":run": {"S": self.run_id}},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            holder = self.dynamodb.get_item(TableName=self.table, Key={"target": {"S": self.target}}).get(
                "Item", {}
            )
            run = holder.get("run_id", {}).get("S", "?")
            since = holder.get("since", {}).get("S", "?")
            raise BadInput(
                f"{self.target} is locked by run {run} (since {since}, in {self.table}); "
                f"wait for it, or `ops runbook abort {run}`"
            ) from None

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
