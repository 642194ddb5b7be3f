"""Alarms: what an alarm is (`spec`), and the catalog of an environment: each component
kind's alarms (ops/kinds/) with the inventory's overrides (`catalog`), and composites.

Defaults follow AWS's published recommended alarms where they exist (each alarm says its
source); every default can be overridden per environment and component in platform.yaml
under `components.<name>.alarms.<key>`.
"""

from alarms.catalog import alarm_catalog, override_problems

__all__ = ["alarm_catalog", "override_problems"]
