"""Observability as code: the desired alarms, log groups and cluster settings of an
environment, and the providers that reconcile them with CloudWatch, Logs, ECS, EventBridge."""
