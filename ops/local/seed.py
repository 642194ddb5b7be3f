"""Seed the emulator with the local environment's resources, as AWS would hold them: the
notification topics and what the Terraform modules would make here, then each component
as its kind seeds it (ops/kinds/<kind>.py).

Every create is idempotent (existing resources are found, not duplicated) and every
resource carries the ownership tags of the environment.
"""

from __future__ import annotations

from ops.aws.clients import ClientFactory
from ops.inventory.environment import Environment
from ops.kinds.registry import kind_of
from ops.kinds.seeding import tags_kv
from ops.local.gaps import UNEMULATED_KINDS
from ops.local.seed_terraform import seed_drills, seed_loadtest, seed_observability


def seed_environment(factory: ClientFactory, env: Environment) -> dict[str, dict[str, str]]:
    """Create every emulated resource of `env`; return what was seeded, by component."""
    seeded: dict[str, dict[str, str]] = {"notifications": _seed_topics(factory, env)}
    seeded["loadtest"] = seed_loadtest(factory, env)  # terraform/modules/loadtest on AWS
    seeded["observability"] = seed_observability(factory, env)  # terraform/modules/observability, adot
    seeded["drills"] = seed_drills(factory, env)  # terraform/modules/drills
    for name, component in env.spec.components.items():
        resources = kind_of(component).seed(factory, env, name, component)
        if resources is not None:
            seeded[name] = resources
        elif component.kind in UNEMULATED_KINDS:
            seeded[name] = {"not emulated": UNEMULATED_KINDS[component.kind]}
    return seeded


def _seed_topics(factory: ClientFactory, env: Environment) -> dict[str, str]:
    sns = factory.client("sns")
    return {
        severity: sns.create_topic(Name=env.resource_name(t.topic), Tags=tags_kv(env))["TopicArn"]
        for severity, t in env.spec.notifications.items()
    }
