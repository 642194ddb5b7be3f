"""What `ops local status` says of one part of the local platform."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PartStatus:
    name: str
    running: bool
    healthy: bool
    address: str
    pid: int | None
    detail: str
    # False for an old server a cutover replaced: listed, never a failure of the platform.
    required: bool = True
