"""Approval tokens: a second person approves a runbook run on a protected environment;
the operator passes the token to a non-interactive run. Each token is used once."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ops.errors import BadInput
from ops.state import StateDir, write_atomic

TOKEN_LIFETIME = timedelta(hours=4)


def _folder(state: StateDir) -> Path:
    return state.root / "approvals"


def issue(state: StateDir, runbook: str, environment: str, approver: str) -> str:
    token = secrets.token_urlsafe(12)
    expires = datetime.now(UTC) + TOKEN_LIFETIME
    entry = {
        "runbook": runbook,
        "environment": environment,
        "approver": approver,
        "expires": expires.isoformat(),
    }
    write_atomic(_folder(state) / f"{token}.json", json.dumps(entry))
    return token


def redeem(state: StateDir, token: str, runbook: str, environment: str) -> str:
    """The approver's name; the token is spent. Refused with one line if it does not fit."""
    path = _folder(state) / f"{token}.json"
    if not token.replace("-", "").replace("_", "").isalnum() or not path.exists():
        raise BadInput(
            "--approve: unknown token; ask the approver for the token `ops runbook approve` printed"
        )
    entry = json.loads(path.read_text())
    if (entry["runbook"], entry["environment"]) != (runbook, environment):
        raise BadInput(
            f"--approve: the token approves {entry['runbook']} on {entry['environment']}, not this run"
        )
    if datetime.fromisoformat(entry["expires"]) < datetime.now(UTC):
        raise BadInput("--approve: the token has expired; ask for a new one")
    path.unlink()
    return str(entry["approver"])
