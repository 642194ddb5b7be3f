# Names the toolkit derives from the inventory (ops/inventory/spec.py: LoadtestSettings);
# tests/unit/test_terraform.py checks that they match.
output "cluster_name" {
  description = "loadtest_settings.cluster, prefixed."
  value       = aws_ecs_cluster.loadtest.name
}

output "master_task_family" {
  description = "loadtest_settings.master_task, prefixed."
  value       = aws_ecs_task_definition.master.family
}

output "worker_task_family" {
  description = "loadtest_settings.worker_task, prefixed."
  value       = aws_ecs_task_definition.worker.family
}

output "results_bucket" {
  description = "loadtest_settings.results_bucket, prefixed."
  value       = aws_s3_bucket.results.bucket
}

output "network_parameter" {
  description = "The SSM parameter the Fargate backend reads its subnets and security group from."
  value       = aws_ssm_parameter.network.name
}

output "security_group_id" {
  description = "The tasks' security group (workers to master on 5557)."
  value       = aws_security_group.tasks.id
}
