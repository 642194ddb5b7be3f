"""Component kinds: a module per kind of platform component (`kind:` in platform.yaml) owning
what that kind knows about itself (its alarms, log groups, AWS names and summary, its place
on the dashboards, its emulator seeding); `registry.py` maps each kind to its module's object.

Imports only foundations (ops.inventory, ops.aws, ops.contracts, ops.errors, alarms.spec,
adot.generate), never an engine or the local platform."""
