"""One environment of the platform, resolved: the base with the environment's overlay."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from ops.inventory.components import Component
from ops.inventory.spec import EnvironmentMeta, PlatformSpec

OWNER_TAG_PLATFORM = "platform-ops:platform"
OWNER_TAG_ENVIRONMENT = "platform-ops:environment"

C = TypeVar("C")


@dataclass(frozen=True)
class Environment:
    """Everything a command needs to know about one environment."""

    platform: str
    name: str
    meta: EnvironmentMeta
    spec: PlatformSpec
    source: str  # the inventory file, for messages

    @property
    def protected(self) -> bool:
        return self.meta.protected

    @property
    def provider(self) -> str:
        return self.meta.provider

    @property
    def region(self) -> str:
        return self.spec.region

    @property
    def prefix(self) -> str:
        """The naming prefix of every resource this environment owns."""
        return f"{self.platform}-{self.name}"

    def resource_name(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def parameter_name(self, *parts: str) -> str:
        """An SSM parameter path under this environment, e.g. /dataplat/local/warehouse/endpoint."""
        return "/" + "/".join((self.platform, self.name, *parts))

    def ownership_tags(self) -> dict[str, str]:
        return {OWNER_TAG_PLATFORM: self.platform, OWNER_TAG_ENVIRONMENT: self.name}

    def components_of(self, kind: type[C]) -> dict[str, C]:
        return {n: c for n, c in self.spec.components.items() if isinstance(c, kind)}

    def component(self, name: str) -> Component:
        return self.spec.components[name]
