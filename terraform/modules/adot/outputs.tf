# Names the toolkit derives from the inventory; tests/unit/test_terraform.py checks them.
output "service_name" {
  description = "<platform>-<env>-<collector>: the ServiceName of the collector's alarms."
  value       = local.family
}

output "image_parameter" {
  description = "Where the toolkit reads the collector image."
  value       = aws_ssm_parameter.image.name
}

output "execution_role_arn" {
  description = "<platform>-<env>-adot-execution."
  value       = aws_iam_role.execution.arn
}

output "task_role_arn" {
  description = "<platform>-<env>-adot-task."
  value       = aws_iam_role.task.arn
}

output "security_group_id" {
  description = "The gateway's security group."
  value       = aws_security_group.gateway.id
}
