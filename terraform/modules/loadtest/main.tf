# The Fargate side of `ops loadtest run --backend fargate`: a cluster, the master and worker
# task definitions (one image, the role set by the toolkit's environment overrides), their
# roles, log group, security group, the results bucket, and the SSM parameter that tells
# the toolkit the network. Names follow the inventory: <platform>-<environment>-loadtest-*.

locals {
  prefix    = "${var.platform}-${var.environment}"
  name      = "${local.prefix}-loadtest"
  container = "locust" # loadtest_settings.container
  tags = merge(var.tags, {
    "platform-ops:platform"    = var.platform
    "platform-ops:environment" = var.environment
  })
}

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

# --- encryption -------------------------------------------------------------------------
resource "aws_kms_key" "loadtest" {
  description             = "${local.name}: results and logs"
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
resource "aws_ecs_cluster" "loadtest" {
  name = local.name
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
  tags = local.tags
}

resource "aws_ecs_cluster_capacity_providers" "loadtest" {
  cluster_name       = aws_ecs_cluster.loadtest.name
  capacity_providers = ["FARGATE", "FARGATE_SPOT"]
}

resource "aws_cloudwatch_log_group" "loadtest" {
  #checkov:skip=CKV_AWS_338:Load-test logs are for debugging a run (30 days); the outcome is kept in the results bucket.
  name              = "/ecs/${local.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.loadtest.arn
  tags              = local.tags
}

# --- task definitions -------------------------------------------------------------------
locals {
  container_base = {
    name                   = local.container
    image                  = var.image
    essential              = true
    readonlyRootFilesystem = true
    user                   = "1000"
    # Locust writes its CSV history under /tmp: a task-local volume, the root stays read-only.
    mountPoints = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]
    environment = [{ name = "PYTHONDONTWRITEBYTECODE", value = "1" }]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.loadtest.name
        awslogs-region        = data.aws_region.current.name
        awslogs-stream-prefix = "locust"
      }
    }
  }
}

resource "aws_ecs_task_definition" "master" {
  family                   = "${local.name}-master"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.master_cpu
  memory                   = var.master_memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.master.arn
  container_definitions = jsonencode([merge(local.container_base, {
    portMappings = [
      { containerPort = 5557, protocol = "tcp" }, # workers
      { containerPort = 8089, protocol = "tcp" }, # web API: live statistics, stop
    ]
  })])
  volume {
    name = "tmp"
  }
  tags = local.tags
}

resource "aws_ecs_task_definition" "worker" {
  family                   = "${local.name}-worker"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.worker_cpu
  memory                   = var.worker_memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.worker.arn
  container_definitions    = jsonencode([local.container_base])
  volume {
    name = "tmp"
  }
  tags = local.tags
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
  name               = "${local.name}-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

resource "aws_iam_role" "master" {
  name               = "${local.name}-master"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = local.tags
}

# The master uploads its final statistics; nothing else is allowed.
data "aws_iam_policy_document" "master" {
  statement {
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.results.arn}/*/locust/*"]
  }
  statement {
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.loadtest.arn]
  }
}

resource "aws_iam_role_policy" "master" {
  name   = "upload-results"
  role   = aws_iam_role.master.id
  policy = data.aws_iam_policy_document.master.json
}

# Workers need no AWS access: a role without policies.
resource "aws_iam_role" "worker" {
  name               = "${local.name}-worker"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = local.tags
}

# --- network ----------------------------------------------------------------------------
resource "aws_security_group" "tasks" {
  #checkov:skip=CKV2_AWS_5:Attached by ECS RunTask (ops loadtest run), outside Terraform.
  name        = "${local.name}-tasks"
  description = "Locust master and workers of platform-ops load tests"
  vpc_id      = var.vpc_id
  tags        = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "workers_to_master" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "Workers report to the master"
  referenced_security_group_id = aws_security_group.tasks.id
  ip_protocol                  = "tcp"
  from_port                    = 5557
  to_port                      = 5557
}

resource "aws_vpc_security_group_ingress_rule" "runner_to_web" {
  for_each          = toset(var.runner_cidrs)
  security_group_id = aws_security_group.tasks.id
  description       = "ops loadtest reads live statistics and stops the run"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 8089
  to_port           = 8089
}

resource "aws_vpc_security_group_egress_rule" "https" {
  security_group_id = aws_security_group.tasks.id
  description       = "The ingest API, ECR, S3 and CloudWatch Logs over HTTPS"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_egress_rule" "to_master" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "Workers to the master"
  referenced_security_group_id = aws_security_group.tasks.id
  ip_protocol                  = "tcp"
  from_port                    = 5557
  to_port                      = 5557
}

resource "aws_ssm_parameter" "network" {
  #checkov:skip=CKV2_AWS_34:Holds subnet and security group ids, no secret; a String needs no KMS grant to read.
  name = "/${var.platform}/${var.environment}/loadtest/network"
  type = "String"
  value = jsonencode({
    subnets         = var.subnet_ids
    security_groups = [aws_security_group.tasks.id]
  })
  tags = local.tags
}

# --- results ----------------------------------------------------------------------------
resource "aws_s3_bucket" "results" {
  #checkov:skip=CKV2_AWS_62:Nothing consumes events of campaign results.
  #checkov:skip=CKV_AWS_18:Results of load tests: CloudTrail data events cover access where an account needs it.
  #checkov:skip=CKV_AWS_144:Results can be re-created by running the campaign again; no replica needed.
  bucket = "${local.prefix}-loadtest-results"
  tags   = local.tags
}

resource "aws_s3_bucket_versioning" "results" {
  bucket = aws_s3_bucket.results.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "results" {
  bucket = aws_s3_bucket.results.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.loadtest.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "results" {
  bucket                  = aws_s3_bucket.results.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_lifecycle_configuration" "results" {
  bucket = aws_s3_bucket.results.id
  rule {
    id     = "expire-old-campaigns"
    status = "Enabled"
    filter {}
    expiration {
      days = var.results_retention_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}
