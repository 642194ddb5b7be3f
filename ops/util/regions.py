"""The AWS regions botocore knows, by partition, read from its own partition data (a small
JSON file: botocore's clients are not loaded for it, so validating an inventory stays fast)."""

from __future__ import annotations

import importlib.util
import json
from functools import cache
from pathlib import Path


@cache
def regions_by_partition() -> dict[str, frozenset[str]]:
    """Each partition (`aws`, `aws-cn`, `aws-us-gov`...) and its regions, as the installed
    botocore knows them (its `*-global` pseudo-regions left out)."""
    spec = importlib.util.find_spec("botocore")
    if spec is None or not spec.submodule_search_locations:
        return {}
    data = Path(next(iter(spec.submodule_search_locations))) / "data" / "partitions.json"
    document = json.loads(data.read_text(encoding="utf-8"))
    return {
        partition["id"]: frozenset(r for r in partition["regions"] if not r.endswith("-global"))
        for partition in document["partitions"]
    }


def partition_of(region: str) -> str | None:
    """The partition a region is in; None for a region botocore does not know."""
    return next((p for p, regions in regions_by_partition().items() if region in regions), None)


def region_problem(region: str) -> str | None:
    """Why `region` is not one to use (None: it is), in words for a one-line error."""
    if partition_of(region) is not None:
        return None
    close = sorted(r for regions in regions_by_partition().values() for r in regions if r[:6] == region[:6])
    hint = f" (did you mean {close[0]}?)" if close else " (e.g. us-east-1, eu-west-1)"
    return f"{region!r} is not an AWS region botocore knows{hint}"
