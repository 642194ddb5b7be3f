"""The platform inventory: platform.yaml, its models, overlays and error reporting."""

from ops.inventory.environment import Environment
from ops.inventory.loader import load_environment, load_inventory

__all__ = ["Environment", "load_environment", "load_inventory"]
