# Drills on a schedule (`ops drill schedule`): the ECS cluster and task definition that run
# the toolkit's image (the repository's Dockerfile) as `ops drill run NAME --env E`, the task
# role with the runbooks' least-privilege policies (`ops runbook iam NAME --env E`), the
# execution role, the role EventBridge Scheduler assumes (RunTask of this family on this
# cluster, PassRole of the two task roles, nothing else), the log group and the SSM parameter
# that tells the toolkit the network. Names: ops/runbook/schedule.py (`drill_names`).

locals {
  prefix    = "${var.platform}-${var.environment}"
  name      = "${local.prefix}-drills" # cluster and task definition family
  container = "ops"                    # the image's ENTRYPOINT
  log_group = "/${var.platform}/${var.environment}/drills"
  tags = merge(var.tags, {
    "platform-ops:platform"    = var.platform
    "platform-ops:environment" = var.environment
  })
}

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

# --- encryption -------------------------------------------------------------------------
resource "aws_kms_key" "drills" {
  description             = "${local.name}: drill task logs"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.key.json
  tags                    = local.tags
}

data "aws_iam_policy_document" "key" {
  #checkov:skip=CKV_AWS_111:In a key policy, resource "*" is the key itself.
  #checkov:skip=CKV_AWS_356:In a key policy, resource "*" is the key itself.
  #checkov:skip=CKV_AWS_109:The account root administers its own key (AWS default key policy).
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"] # a key policy's resource is the key itself
    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
  statement {
    sid       = "CloudWatchLogsEncrypt"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${data.aws_region.current.name}.amazonaws.com"]
    }
  }
}

# --- cluster and logs -------------------------------------------------------------------
resource "aws_ecs_cluster" "drills" {
  name = local.name
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
  tags = local.tags
}

resource "aws_ecs_cluster_capacity_providers" "drills" {
  cluster_name       = aws_ecs_cluster.drills.name
  capacity_providers = ["FARGATE"]
}

resource "aws_cloudwatch_log_group" "drills" {
  name              = local.log_group
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.drills.arn
  tags              = local.tags
}

# --- task definition --------------------------------------------------------------------
resource "aws_ecs_task_definition" "drills" {
  family                   = local.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn
  container_definitions = jsonencode([{
    name                   = local.container
    image                  = var.image
    essential              = true
    readonlyRootFilesystem = true
    user                   = "10001" # the image's non-root user
    # The toolkit's state (journal, drill history) lives for the task only, under /tmp; the
    # drill's outcome is kept by its CloudWatch metrics (PlatformOps/Drills).
    mountPoints = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]
    environment = [
      { name = "OPS_STATE_DIR", value = "/tmp/platform-ops" },
      { name = "PYTHONDONTWRITEBYTECODE", value = "1" },
    ]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.drills.name
        awslogs-region        = data.aws_region.current.name
        awslogs-stream-prefix = "drill"
      }
    }
  }])
  volume {
    name = "tmp"
  }
  tags = local.tags
}

# --- task roles ---------------------------------------------------------------------------
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
  name               = "${local.name}-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

resource "aws_iam_role" "task" {
  name               = "${local.name}-task"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = local.tags
}

# One inline policy per scheduled runbook: what `ops runbook iam NAME --env E` prints.
resource "aws_iam_role_policy" "runbook" {
  for_each = var.runbook_policies
  name     = "runbook-${each.key}"
  role     = aws_iam_role.task.id
  policy   = each.value
}

# --- the scheduler's role -----------------------------------------------------------------
data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "${local.name}-scheduler"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json
  tags               = local.tags
}

# RunTask of the drills family (any revision: the schedule names the family, so the latest
# ACTIVE one runs) on the drills cluster only, and PassRole of the task's two roles to ECS.
data "aws_iam_policy_document" "scheduler" {
  statement {
    sid     = "RunDrillTask"
    actions = ["ecs:RunTask"]
    resources = [
      aws_ecs_task_definition.drills.arn_without_revision,
      "${aws_ecs_task_definition.drills.arn_without_revision}:*",
    ]
    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [aws_ecs_cluster.drills.arn]
    }
  }
  statement {
    sid       = "PassTaskRoles"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.task.arn, aws_iam_role.execution.arn]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "run-drill-task"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler.json
}

# --- network ----------------------------------------------------------------------------
resource "aws_security_group" "tasks" {
  #checkov:skip=CKV2_AWS_5:Attached by ECS RunTask (the schedule's target), outside Terraform.
  name        = "${local.name}-tasks"
  description = "platform-ops drill tasks"
  vpc_id      = var.vpc_id
  tags        = local.tags
}

resource "aws_vpc_security_group_egress_rule" "https" {
  security_group_id = aws_security_group.tasks.id
  description       = "AWS APIs, ECR and CloudWatch Logs over HTTPS"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_egress_rule" "postgres" {
  for_each          = toset(var.database_cidrs)
  security_group_id = aws_security_group.tasks.id
  description       = "rds-pitr's data checks on the restored database"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 5432
  to_port           = 5432
}

resource "aws_ssm_parameter" "network" {
  #checkov:skip=CKV2_AWS_34:Holds subnet and security group ids, no secret; a String needs no KMS grant to read.
  name = "/${var.platform}/${var.environment}/drills/network"
  type = "String"
  value = jsonencode({
    subnets         = var.subnet_ids
    security_groups = [aws_security_group.tasks.id]
  })
  tags = local.tags
}
