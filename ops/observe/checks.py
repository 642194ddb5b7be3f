"""Checks of an environment's monitoring settings that need the alarm packs: made before
any AWS call, reported like every inventory error (file, line, field; exit 2)."""

from __future__ import annotations

from alarms import override_problems
from ops.inventory.environment import Environment
from ops.inventory.loader import Inventory, InventoryInvalid
from ops.inventory.problems import Problem


def check_environment(inventory: Inventory, env: Environment) -> None:
    problems = override_problems(env)
    if problems:
        raise inventory.invalid(env.name, problems)


def check_inventory(inventory: Inventory) -> None:
    """Every environment; a problem in the base is reported once."""
    found: list[Problem] = []
    for env in inventory.environments.values():
        problems = override_problems(env)
        if problems:
            found += inventory.invalid(env.name, problems).problems
    if found:
        raise InventoryInvalid(found)
