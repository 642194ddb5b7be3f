"""A short, human description of each component, for `ops inventory show`."""

from __future__ import annotations

from ops.inventory.components import Component
from ops.inventory.environment import Environment
from ops.kinds.registry import kind_of


def aws_names(env: Environment, component: Component) -> list[str]:
    """The names this component's resources carry in AWS, with the environment prefix."""
    return kind_of(component).aws_names(env, component)


def settings(component: Component) -> str:
    """The few settings an operator looks for first."""
    return kind_of(component).settings(component)
