"""Ownership as tags, read in batches with the tagging API (the fingerprint tag is the reconcile
engine's: ops.reconcile.provider.FINGERPRINT_TAG)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from ops.inventory.environment import OWNER_TAG_ENVIRONMENT, OWNER_TAG_PLATFORM, Environment

# Alarms and composite alarms share one resource type: the kind tag tells them apart.
KIND_TAG = "platform-ops:kind"

T = TypeVar("T")


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def owned_by_environment(tags: dict[str, str], env: Environment) -> bool:
    return tags.get(OWNER_TAG_PLATFORM) == env.platform and tags.get(OWNER_TAG_ENVIRONMENT) == env.name


def is_owned(tags: dict[str, str], env: Environment, kind: str) -> bool:
    return owned_by_environment(tags, env) and tags.get(KIND_TAG) == kind


def ownership_tags(env: Environment, kind: str) -> dict[str, str]:
    return {**env.ownership_tags(), KIND_TAG: kind}


def owned_by_tagging_api(
    tagging: Any, env: Environment, resource_type: str, kind: str
) -> dict[str, dict[str, str]]:
    """ARN -> tags of every resource of a type this environment owns: 100 a call on AWS
    (50 on the emulator), never one call per resource."""
    found: dict[str, dict[str, str]] = {}
    paginator = tagging.get_paginator("get_resources")
    pages = paginator.paginate(
        ResourceTypeFilters=[resource_type],
        TagFilters=[
            {"Key": OWNER_TAG_PLATFORM, "Values": [env.platform]},
            {"Key": OWNER_TAG_ENVIRONMENT, "Values": [env.name]},
            {"Key": KIND_TAG, "Values": [kind]},
        ],
        ResourcesPerPage=100,
        TagsPerPage=500,  # the maximum: a page holds 100 resources only if their tags fit (4 each)
    )
    for page in pages:
        for mapping in page.get("ResourceTagMappingList", []):
            found[mapping["ResourceARN"]] = {t["Key"]: t["Value"] for t in mapping.get("Tags", [])}
    return found


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in sorted(tags.items())]
