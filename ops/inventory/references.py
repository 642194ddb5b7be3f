"""Checks across components that a single model cannot make: every name must resolve."""

from __future__ import annotations

import re
from collections.abc import Iterator

from ops.inventory.components import STATEFUL_KINDS, ApiGateway, Lambda, Msk, MskReplicator, S3Lake
from ops.inventory.spec import PlatformSpec
from ops.util.regions import partition_of

Path = tuple[str | int, ...]
COMPONENT_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")


def reference_problems(spec: PlatformSpec) -> list[tuple[Path, str]]:
    """Every dangling or wrong-kind reference, as (path in the merged spec, message)."""
    return list(_problems(spec))


def _problems(spec: PlatformSpec) -> Iterator[tuple[Path, str]]:
    components = spec.components
    kinds: dict[str, str] = {name: component.kind for name, component in components.items()}
    for name, component in components.items():
        base: Path = ("components", name)
        if not COMPONENT_NAME.fullmatch(name):
            yield (
                base,
                (
                    f"{name!r}: a component name is lower-case letters, digits and underscores, from a "
                    "letter, at most 63 (it becomes part of AWS names, alarm names and SSM paths)"
                ),
            )
        if isinstance(component, ApiGateway):
            for route, target in component.routes.items():
                yield from _expect_kind(kinds, target, "lambda", (*base, "routes", route))
        elif isinstance(component, Lambda):
            where = (*base, "produces_to")
            ref = component.produces_to
            if kinds.get(ref.cluster) == "msk":
                cluster = components[ref.cluster]
                assert isinstance(cluster, Msk)
                if ref.topic not in {t.name for t in cluster.topics}:
                    yield (
                        (*where, "topic"),
                        f"topic {ref.topic!r} is not a topic of {ref.cluster!r}",
                    )
            else:
                yield from _expect_kind(kinds, ref.cluster, "msk", (*where, "cluster"))
        elif isinstance(component, Msk):
            topics = {t.name for t in component.topics}
            for index, group in enumerate(component.consumer_groups):
                for topic in group.topics:
                    if topic not in topics:
                        where = (*base, "consumer_groups", index, "topics")
                        yield where, f"consumer group {group.name!r} reads unknown topic {topic!r}"
        elif isinstance(component, MskReplicator):
            yield from _replicator_problems(spec, name, component)
        elif component.kind == "adot":
            yield from _expect_kind(kinds, component.ecs_cluster, "ecs_cluster", (*base, "ecs_cluster"))
    yield from _partition_problems(spec)
    for name in spec.drill_policy:
        if name not in kinds:
            yield ("drill_policy", name), f"unknown component {name!r}{_choices(kinds)}"
    for name in spec.objectives:
        if name not in kinds:
            yield ("objectives", name), f"unknown component {name!r}{_choices(kinds)}"
        elif kinds[name] not in STATEFUL_KINDS:
            yield (
                ("objectives", name),
                (
                    f"{name!r} is a {kinds[name]}, which holds no data; objectives are for "
                    f"{', '.join(sorted(STATEFUL_KINDS))} components"
                ),
            )


def _replicator_problems(
    spec: PlatformSpec, name: str, replicator: MskReplicator
) -> Iterator[tuple[Path, str]]:
    base: Path = ("components", name)
    kinds: dict[str, str] = {n: c.kind for n, c in spec.components.items()}
    for field in ("source", "target"):
        yield from _expect_kind(kinds, getattr(replicator, field), "msk", (*base, field))
    if replicator.source == replicator.target:
        yield (*base, "target"), "a replicator's target must differ from its source"
    source = spec.components.get(replicator.source)
    if isinstance(source, Msk):
        topics = {t.name for t in source.topics}
        groups = {g.name for g in source.consumer_groups}
        for topic in replicator.topics:
            if topic not in topics:
                yield (*base, "topics"), f"topic {topic!r} is not a topic of {replicator.source!r}"
        for group in replicator.consumer_groups:
            if group not in groups:
                yield (
                    (*base, "consumer_groups"),
                    (f"consumer group {group!r} is not a group of {replicator.source!r}"),
                )


def _expect_kind(kinds: dict[str, str], name: str, kind: str, where: Path) -> Iterator[tuple[Path, str]]:
    if name not in kinds:
        wanted = {n: k for n, k in kinds.items() if k == kind}
        yield where, f"unknown component {name!r}{_choices(wanted)}"
    elif kinds[name] != kind:
        yield where, f"{name!r} is a {kinds[name]} component; a {kind} component is needed here"


def _choices(names: dict[str, str]) -> str:
    return f" (known: {', '.join(sorted(names))})" if names else ""


def _partition_problems(spec: PlatformSpec) -> Iterator[tuple[Path, str]]:
    """Every region a component names is in the environment's partition (its ARNs, IAM and
    replication cannot cross from `aws` to `aws-cn`)."""
    home = partition_of(spec.region)
    for name, component in spec.components.items():
        named: list[tuple[Path, str | None]] = []
        if isinstance(component, Msk):
            named.append((("components", name, "region"), component.region))
        elif isinstance(component, S3Lake):
            for zone in ("raw", "processed", "curated"):
                bucket = getattr(component.zones, zone)
                named.append(
                    (("components", name, "zones", zone, "replicate_to_region"), bucket.replicate_to_region)
                )
        for where, region in named:
            if region and home and partition_of(region) != home:
                yield (
                    where,
                    f"{region!r} is in partition {partition_of(region)}; the environment's is {home}",
                )
