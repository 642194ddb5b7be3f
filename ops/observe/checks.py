"""Checks of an environment that need the component kinds (the alarm packs' overrides, AWS's
naming rules on the derived names): made before any AWS call, reported like every inventory
error (file, line, field; exit 2)."""

from __future__ import annotations

from collections.abc import Callable

from alarms import override_problems
from ops.inventory.environment import Environment
from ops.inventory.loader import Inventory, InventoryInvalid
from ops.inventory.problems import Problem
from ops.inventory.yamlsource import Path
from ops.kinds.naming import naming_problems


def check_environment(inventory: Inventory, env: Environment) -> None:
    problems = override_problems(env) + naming_problems(env)
    if problems:
        raise inventory.invalid(env.name, problems)


def check_inventory(inventory: Inventory, *more: Callable[[Environment], list[tuple[Path, str]]]) -> None:
    """Every environment; a problem in the base is reported once (for the first environment
    it shows in: a derived name differs by environment, its field does not)."""
    found: dict[tuple[str, int, str], Problem] = {}
    for env in inventory.environments.values():
        problems = override_problems(env) + naming_problems(env)
        for check in more:  # checks of layers above this one (the runbooks' drill policy)
            problems += check(env)
        if problems:
            for problem in inventory.invalid(env.name, problems).problems:
                found.setdefault((problem.file, problem.line, problem.path), problem)
    if found:
        raise InventoryInvalid(list(found.values()))
