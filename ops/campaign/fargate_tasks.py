"""A campaign's tasks as ECS knows them: the tags every task carries (campaign, role,
expiry), and the third layer of teardown, `ops loadtest sweep`, which stops the tasks of
campaigns past their expiry and never a task without our campaign tag."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

CAMPAIGN_TAG = "platform-ops:campaign"
ROLE_TAG = "platform-ops:role"
EXPIRES_TAG = "platform-ops:expires-at"


def campaign_tags(campaign_id: str, role: str, expires_at: datetime) -> list[dict[str, str]]:
    return [
        {"key": CAMPAIGN_TAG, "value": campaign_id},
        {"key": ROLE_TAG, "value": role},
        {"key": EXPIRES_TAG, "value": expires_at.astimezone(UTC).isoformat(timespec="seconds")},
    ]


def sweep(
    aws: Any, cluster: str, now: datetime, campaign: str | None = None, stop: bool = True
) -> list[dict[str, str]]:
    """Layer 3: the running tasks of campaigns past their expiry (or of one campaign),
    stopped unless `stop` is False. Tasks without our campaign tag are never touched."""
    ecs = aws.client("ecs")
    arns: list[str] = []
    for page in ecs.get_paginator("list_tasks").paginate(cluster=cluster, desiredStatus="RUNNING"):
        arns += page["taskArns"]
    found = []
    for start in range(0, len(arns), 100):
        for task in ecs.describe_tasks(cluster=cluster, tasks=arns[start : start + 100], include=["TAGS"])[
            "tasks"
        ]:
            tags = {t["key"]: t["value"] for t in task.get("tags", [])}
            if CAMPAIGN_TAG not in tags:
                continue
            expired = datetime.fromisoformat(tags.get(EXPIRES_TAG, "1970-01-01T00:00:00+00:00")) <= now
            if (campaign is None and expired) or tags[CAMPAIGN_TAG] == campaign:
                found.append(
                    {
                        "task": task["taskArn"],
                        "campaign": tags[CAMPAIGN_TAG],
                        "role": tags.get(ROLE_TAG, ""),
                        "expires_at": tags.get(EXPIRES_TAG, ""),
                    }
                )
    if stop:
        for item in found:
            ecs.stop_task(
                cluster=cluster, task=item["task"], reason="ops loadtest sweep: orphaned campaign task"
            )
    return found
