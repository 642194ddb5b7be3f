"""Count the AWS API calls a command makes, by service and operation (`--stats`)."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class CallStats:
    """A thread-safe counter fed by botocore's `before-call` event: once per API call
    (a call botocore retries still counts once)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()

    def attach(self, client: Any) -> None:
        service = client.meta.service_model.service_name
        client.meta.events.register(f"before-call.{service}", self._on_call)

    def _on_call(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.calls[f"{model.service_model.service_name}:{model.name}"] += 1

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def count(self, prefix: str) -> int:
        """Calls whose `service:Operation` starts with `prefix` (e.g. 'cloudwatch:')."""
        return sum(n for key, n in self.calls.items() if key.startswith(prefix))

    def as_dict(self) -> dict[str, Any]:
        return {"total_calls": self.total, "calls": dict(sorted(self.calls.items()))}
