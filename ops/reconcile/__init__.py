"""The reconcile engine: desired state -> plan -> apply -> prune -> drift, for any kind of
resource with a provider (alarms, log groups, dashboards, collectors...)."""
