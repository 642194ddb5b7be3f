"""A regression verdict between two campaign runs (their results.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ops.errors import BadInput


def load_results(state_root: Path, run: str) -> dict[str, Any]:
    """A run by id (under <state>/loadtests/) or a results.json path."""
    path = Path(run)
    if path.is_dir():
        path = path / "results.json"
    if not path.exists():
        path = state_root / "loadtests" / run / "results.json"
    if not path.exists():
        raise BadInput(f"{run}: no such campaign run (no results.json); `ls {state_root / 'loadtests'}`")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def compare(
    run: dict[str, Any], baseline: dict[str, Any], tolerance: float
) -> list[tuple[str, float, float, bool]]:
    """(measure, baseline, run, ok): latencies may grow and throughput may drop by at
    most `tolerance` (a fraction), the error rate may not grow past the baseline's by more
    than one percentage point."""
    found = []
    for q in ("p95", "p99"):
        before, after = float(baseline["latency_ms"][q]), float(run["latency_ms"][q])
        found.append((f"{q} latency ms", before, after, after <= before * (1 + tolerance)))
    before, after = float(baseline["throughput_rps"]), float(run["throughput_rps"])
    found.append(("throughput req/s", before, after, after >= before * (1 - tolerance)))
    errors = [r["failures"] / r["requests"] if r["requests"] else 0.0 for r in (baseline, run)]
    found.append(("error rate", errors[0], errors[1], errors[1] <= errors[0] + 0.01))
    return found
