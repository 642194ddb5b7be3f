"""Tell the on-call channel how a run ended: a message on the environment's SNS topic
(info when it completed, critical when it failed). Never a secret in it."""

from __future__ import annotations

import json
import logging
from typing import Any

from ops.inventory.environment import Environment

log = logging.getLogger(__name__)


def topic_for(env: Environment, severity: str, account: str) -> str | None:
    topic = env.spec.notifications.get(severity) or env.spec.notifications.get("critical")  # type: ignore[call-overload]
    if topic is None:
        return None
    return f"arn:aws:sns:{env.region}:{account}:{env.resource_name(topic.topic)}"


def notify_run(sns: Any, env: Environment, account: str, summary: dict[str, Any]) -> None:
    """Publish the run's summary; a failure to notify is logged, never fatal to the run."""
    failed = summary.get("status") not in ("completed",)
    arn = topic_for(env, "critical" if failed else "info", account)
    if arn is None:
        return
    subject = f"[{env.prefix}] {summary.get('runbook')} {summary.get('status')}"[:100]
    try:
        sns.publish(TopicArn=arn, Subject=subject, Message=json.dumps(summary, default=str, indent=2))
    except Exception as error:  # notification is best effort: the journal has the truth
        log.warning("could not notify %s: %s", arn, error)
