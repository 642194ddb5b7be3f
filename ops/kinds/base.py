"""What a component kind knows about itself, with the defaults a kind that knows nothing of
one concern gets (no alarms, no log groups, not seeded, ...): a kind overrides only what
applies to it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from ops.inventory.components import Monitored
from ops.inventory.environment import Environment

if TYPE_CHECKING:  # boto3 is imported by the commands that seed, not by every import of a kind
    from alarms.spec import AlarmSpec
    from ops.aws.clients import ClientFactory

C = TypeVar("C", bound=Monitored)


class ComponentKind(Generic[C]):
    """One kind of component (`kind:` in platform.yaml), for the inventory model `C`."""

    kind: ClassVar[str]
    # Its place on the ingest path (API Gateway -> Lambda -> MSK -> Glue/EMR -> S3 and RDS)
    # and how many panels it gives the overview dashboard: 0 for a kind off the path.
    ingest_stage: ClassVar[int] = 0
    overview_panels: ClassVar[int] = 0
    # Alarm keys that mean "the ingest path is failing" (members of its composite alarm).
    ingest_path_signals: ClassVar[frozenset[str]] = frozenset()

    def aws_names(self, env: Environment, component: C) -> list[str]:
        """The names this component's resources carry in AWS, with the environment prefix."""
        return []

    def settings(self, component: C) -> str:
        """The few settings an operator looks for first (`ops inventory show`)."""
        return ""

    def region(self, component: C) -> str:
        """Where the component lives when not in the environment's region, else ""."""
        return ""

    def alarms(self, env: Environment, name: str, component: C) -> list[AlarmSpec]:
        """The default alarms (before the inventory's overrides)."""
        return []

    def log_groups(self, env: Environment, name: str, component: C) -> list[str]:
        """AWS's fixed names where the service picks them, `/<platform>/<env>/<service>/<name>`
        where we do."""
        return []

    def event_rules(self, env: Environment, name: str, component: C) -> dict[str, dict[str, Any]]:
        """EventBridge rules its alarms watch: rule name -> PutRule's properties."""
        return {}

    def cluster_settings(self, env: Environment, component: C) -> dict[str, dict[str, str]]:
        """ECS cluster settings it wants: cluster name -> settings."""
        return {}

    def seed(
        self, factory: ClientFactory, env: Environment, name: str, component: C
    ) -> dict[str, str] | None:
        """Create its resources in the emulator, idempotently; what was seeded, or None when
        the kind is not seeded."""
        return None
