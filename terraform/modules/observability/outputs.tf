# Names the toolkit derives from the inventory; tests/unit/test_terraform.py checks them.
output "alert_topic_arns" {
  description = "One SNS topic per severity: <platform>-<env>-<notifications.<severity>.topic>."
  value       = { for severity, topic in aws_sns_topic.alerts : severity => topic.arn }
}

output "grafana_workspace_id" {
  description = "The Managed Grafana workspace (`ops observe` reaches it with a short-lived service-account token)."
  value       = aws_grafana_workspace.observability.id
}

output "grafana_endpoint" {
  description = "The workspace's URL."
  value       = aws_grafana_workspace.observability.endpoint
}

output "amp_workspace_arn" {
  description = "The AMP workspace the collectors write to (terraform/modules/adot's task role)."
  value       = aws_prometheus_workspace.metrics.arn
}

output "amp_remote_write_parameter" {
  description = "The SSM parameter with the remote-write URL (the gateway task takes it by valueFrom)."
  value       = aws_ssm_parameter.amp_remote_write_url.name
}
