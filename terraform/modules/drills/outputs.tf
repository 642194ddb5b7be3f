# Names ops/runbook/schedule.py derives from the environment prefix (`drill_names`);
# tests/unit/test_terraform.py checks that they match.
output "cluster_name" {
  description = "<prefix>-drills: the schedules' target."
  value       = aws_ecs_cluster.drills.name
}

output "task_family" {
  description = "<prefix>-drills: the task definition the schedules run (its latest ACTIVE revision)."
  value       = aws_ecs_task_definition.drills.family
}

output "task_role_arn" {
  description = "<prefix>-drills-task: the runbooks' policies."
  value       = aws_iam_role.task.arn
}

output "execution_role_arn" {
  description = "<prefix>-drills-execution: pulls the image, writes the logs."
  value       = aws_iam_role.execution.arn
}

output "scheduler_role_arn" {
  description = "<prefix>-drills-scheduler: the role each schedule's target names."
  value       = aws_iam_role.scheduler.arn
}

output "log_group" {
  description = "/<platform>/<env>/drills: the drill tasks' logs."
  value       = aws_cloudwatch_log_group.drills.name
}

output "network_parameter" {
  description = "The SSM parameter `ops drill schedule` reads the subnets and security group from."
  value       = aws_ssm_parameter.network.name
}
