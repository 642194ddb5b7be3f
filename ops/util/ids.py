"""The one run-id format: `<prefix>-<UTC time to the second>-<4 hex digits>`.

Sortable by time, unique enough for one operator's runs, and short enough for the
resource names that are derived from it (a restored instance, a campaign's tasks)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime


def new_run_id(prefix: str = "") -> str:
    stamp = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"
    return f"{prefix}-{stamp}" if prefix else stamp
