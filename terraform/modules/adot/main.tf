# The gateway collector's ECS service. Its task definition is the toolkit's
# (`ops observe apply`, kind collector-task: the configuration from SSM by valueFrom), so this
# module creates what that task definition names: the execution and task roles and the image
# parameter, then the service on the family's latest revision.
# Order on a new environment: apply with create_service = false, `ops observe apply`, then
# apply with create_service = true.

locals {
  prefix = "${var.platform}-${var.environment}"
  family = "${local.prefix}-${var.collector_name}"
  tags = merge(var.tags, {
    "platform-ops:platform"    = var.platform
    "platform-ops:environment" = var.environment
  })
  parameters = "arn:${data.aws_partition.current.partition}:ssm:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:parameter/${var.platform}/${var.environment}"
}

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

resource "aws_ssm_parameter" "image" {
  #checkov:skip=CKV2_AWS_34:An image reference, no secret; a String needs no KMS grant to read.
  name  = "/${var.platform}/${var.environment}/adot-image"
  type  = "String"
  value = var.collector_image
  tags  = local.tags
}

# --- roles --------------------------------------------------------------------------------
data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "execution" {
  name               = "${local.prefix}-adot-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

# valueFrom: the configurations and the AMP endpoint, nothing else.
data "aws_iam_policy_document" "execution_parameters" {
  statement {
    actions   = ["ssm:GetParameters"]
    resources = ["${local.parameters}/adot/*", "${local.parameters}/amp/remote-write-url"]
  }
}

resource "aws_iam_role_policy" "execution_parameters" {
  name   = "collector-configuration"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution_parameters.json
}

resource "aws_iam_role" "task" {
  name               = "${local.prefix}-adot-task"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = local.tags
}

# What the exporters write: EMF logs, X-Ray segments, AMP samples.
data "aws_iam_policy_document" "task" {
  #checkov:skip=CKV_AWS_356:X-Ray's PutTraceSegments, PutTelemetryRecords and sampling calls take no resource ARN.
  #checkov:skip=CKV_AWS_111:X-Ray's write calls take no resource ARN; the logs and AMP writes are scoped.
  statement {
    sid       = "EmfMetrics"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:log-group:/${var.platform}/${var.environment}/adot/*"]
  }
  statement {
    sid       = "Traces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"]
    resources = ["*"]
  }
  statement {
    sid       = "Prometheus"
    actions   = ["aps:RemoteWrite"]
    resources = [var.amp_workspace_arn]
  }
}

resource "aws_iam_role_policy" "task" {
  name   = "exporters"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task.json
}

# --- the service ----------------------------------------------------------------------------
resource "aws_security_group" "gateway" {
  name        = "${local.family}-collector"
  description = "OTLP into the ${local.family} collector"
  vpc_id      = var.vpc_id
  tags        = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "otlp" {
  for_each          = { for pair in setproduct(var.client_cidrs, [4317, 4318]) : "${pair[0]}-${pair[1]}" => pair }
  security_group_id = aws_security_group.gateway.id
  description       = "OTLP (gRPC 4317, HTTP 4318) from the platform"
  cidr_ipv4         = each.value[0]
  ip_protocol       = "tcp"
  from_port         = each.value[1]
  to_port           = each.value[1]
}

resource "aws_vpc_security_group_egress_rule" "https" {
  security_group_id = aws_security_group.gateway.id
  description       = "CloudWatch, X-Ray, AMP and SSM over HTTPS"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_ecs_service" "gateway" {
  count                  = var.create_service ? 1 : 0
  name                   = local.family
  cluster                = var.cluster_name
  task_definition        = local.family # the latest ACTIVE revision the toolkit registered
  desired_count          = var.desired_count
  launch_type            = "FARGATE"
  enable_execute_command = false
  propagate_tags         = "SERVICE"
  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [aws_security_group.gateway.id]
    assign_public_ip = false
  }
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }
  lifecycle {
    ignore_changes = [task_definition] # new revisions come from `ops observe apply`
  }
  tags = local.tags
}
