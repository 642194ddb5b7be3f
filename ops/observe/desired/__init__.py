"""Desired-state builders: what an environment should have (alarms, log groups, rules,
collectors, dashboards), as reconcile resources. The providers (`ops/observe/providers/`)
read and write what it has; the planner (`ops/observe/planning.py`) compares the two."""
