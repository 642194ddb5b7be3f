"""The inventory's drill policy checked against the runbooks: each names a runbook that has
a drill, of a component of the kind that drill exercises. Reported like every inventory
error (`ops inventory validate`, `ops drill due`)."""

from __future__ import annotations

from ops.inventory.environment import Environment
from runbooks import REGISTRY

Path = tuple[str | int, ...]


def drill_policy_problems(env: Environment) -> list[tuple[Path, str]]:
    drillable = {name: runbook.drills for name, runbook in REGISTRY.items() if runbook.drills}
    problems: list[tuple[Path, str]] = []
    for component, runbooks in env.spec.drill_policy.items():
        found = env.spec.components.get(component)
        for runbook in runbooks:
            where: Path = ("drill_policy", component, runbook)
            if runbook not in drillable:
                known = ", ".join(sorted(drillable))
                problems.append((where, f"{runbook!r} is not a runbook with a drill (drills: {known})"))
            elif found is not None and found.kind not in drillable[runbook]:
                kinds = "/".join(sorted(drillable[runbook]))
                problems.append(
                    (where, f"{runbook} drills {kinds} components; {component!r} is {found.kind}")
                )
    return problems
