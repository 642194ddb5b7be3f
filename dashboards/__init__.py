"""Dashboards generated from the alarm catalog: one per component plus the ingest-path
overview, rendered to Managed Grafana and CloudWatch from one definition."""
