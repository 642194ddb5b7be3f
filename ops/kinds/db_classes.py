"""Memory of the common database instance classes (RDS, Aurora, DocumentDB): thresholds in %
of memory need it."""

from __future__ import annotations

GIB = 1024**3

# GiB by size, for the families that share a memory ladder.
_BURSTABLE = {"micro": 1, "small": 2, "medium": 4, "large": 8}
_GENERAL_PURPOSE = {"large": 8, "xlarge": 16, "2xlarge": 32, "4xlarge": 64}
_MEMORY_OPTIMIZED = {"large": 16, "xlarge": 32, "2xlarge": 64, "4xlarge": 128}
_FAMILIES = {
    "db.t4g": _BURSTABLE,
    "db.t3": _BURSTABLE,
    "db.m6g": _GENERAL_PURPOSE,
    "db.m7g": _GENERAL_PURPOSE,
    "db.r6g": _MEMORY_OPTIMIZED,
    "db.r7g": _MEMORY_OPTIMIZED,
}
CLASS_MEMORY_GIB = {
    f"{family}.{size}": gib for family, sizes in _FAMILIES.items() for size, gib in sizes.items()
}
UNKNOWN_CLASS_MEMORY_GIB = 4  # a cautious guess; override `freeable-memory` for such a class


def memory_bytes(instance_class: str) -> int:
    return CLASS_MEMORY_GIB.get(instance_class, UNKNOWN_CLASS_MEMORY_GIB) * GIB
