"""The loader's configuration, from its environment."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass

from ops.errors import OpsError
from ops.local.loader import DATABASE_PARAMETER_ENV, GROUPS_ENV, KAFKA_PARAMETER_ENV, PORT_ENV


@dataclass(frozen=True)
class GroupSpec:
    """One consumer group and the raw topics it loads (names before the endpoint's prefix)."""

    group: str
    topics: tuple[str, ...]


@dataclass(frozen=True)
class LoaderConfig:
    kafka_parameter: str
    database_parameter: str
    groups: tuple[GroupSpec, ...]
    port: int

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> LoaderConfig:
        env = os.environ if environ is None else environ
        required = (KAFKA_PARAMETER_ENV, DATABASE_PARAMETER_ENV, GROUPS_ENV, PORT_ENV)
        missing = [name for name in required if not env.get(name)]
        if missing:
            raise OpsError(f"the loader needs {', '.join(missing)} in its environment")
        return cls(
            kafka_parameter=env[KAFKA_PARAMETER_ENV],
            database_parameter=env[DATABASE_PARAMETER_ENV],
            groups=parse_groups(env[GROUPS_ENV]),
            port=int(env[PORT_ENV]),
        )


def parse_groups(text: str) -> tuple[GroupSpec, ...]:
    try:
        groups = tuple(
            GroupSpec(str(entry["group"]), tuple(str(topic) for topic in entry["topics"]))
            for entry in json.loads(text)
        )
    except (ValueError, KeyError, TypeError) as error:
        raise OpsError(f"{GROUPS_ENV}: expected [{{'group': ..., 'topics': [...]}}, ...] ({error})") from None
    if not groups or any(not g.topics for g in groups) or len({g.group for g in groups}) != len(groups):
        raise OpsError(f"{GROUPS_ENV}: at least one group, each with topics, no group twice")
    return groups
