# What the observability as code of `ops observe` runs against: the SNS topics alarms notify
# (one per severity), the Managed Grafana workspace and its role, the AMP workspace the
# collectors write to, and the SSM parameter that tells the toolkit the AMP endpoint.
# Log groups of the services are `ops observe`'s (with their retention); this module keeps
# only the AMP workspace's own.

locals {
  prefix = "${var.platform}-${var.environment}"
  tags = merge(var.tags, {
    "platform-ops:platform"    = var.platform
    "platform-ops:environment" = var.environment
  })
}

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

# --- encryption -------------------------------------------------------------------------
resource "aws_kms_key" "observability" {
  description             = "${local.prefix}: alert topics and the AMP workspace's logs"
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
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
  statement {
    sid       = "AlarmsPublishToEncryptedTopics"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com", "events.amazonaws.com"]
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

# --- alert topics -----------------------------------------------------------------------
resource "aws_sns_topic" "alerts" {
  for_each          = var.severities
  name              = "${local.prefix}-${each.value}"
  kms_master_key_id = aws_kms_key.observability.arn
  tags              = merge(local.tags, { severity = each.key })
}

data "aws_iam_policy_document" "alerts" {
  for_each = var.severities
  statement {
    sid       = "CloudWatchAlarmsPublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts[each.key].arn]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "alerts" {
  for_each = var.severities
  arn      = aws_sns_topic.alerts[each.key].arn
  policy   = data.aws_iam_policy_document.alerts[each.key].json
}

# --- Amazon Managed Service for Prometheus ------------------------------------------------
resource "aws_cloudwatch_log_group" "amp" {
  #checkov:skip=CKV_AWS_338:The AMP workspace's own logs (ingestion errors) follow the environment's retention.
  name              = "/aws/vendedlogs/prometheus/${local.prefix}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.observability.arn
  tags              = local.tags
}

resource "aws_prometheus_workspace" "metrics" {
  alias       = "${local.prefix}-metrics"
  kms_key_arn = aws_kms_key.observability.arn
  logging_configuration {
    log_group_arn = "${aws_cloudwatch_log_group.amp.arn}:*"
  }
  tags = local.tags
}

resource "aws_ssm_parameter" "amp_remote_write_url" {
  #checkov:skip=CKV2_AWS_34:An endpoint URL, no secret; a String needs no KMS grant to read.
  name  = "/${var.platform}/${var.environment}/amp/remote-write-url"
  type  = "String"
  value = "${aws_prometheus_workspace.metrics.prometheus_endpoint}api/v1/remote_write"
  tags  = local.tags
}

# --- Amazon Managed Grafana ---------------------------------------------------------------
data "aws_iam_policy_document" "grafana_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["grafana.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "grafana" {
  name               = "${local.prefix}-grafana"
  assume_role_policy = data.aws_iam_policy_document.grafana_assume.json
  tags               = local.tags
}

# Grafana reads: CloudWatch metrics and alarms (its own AWS-managed policy), and AMP.
resource "aws_iam_role_policy_attachment" "grafana_cloudwatch" {
  role       = aws_iam_role.grafana.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonGrafanaCloudWatchAccess"
}

data "aws_iam_policy_document" "grafana_amp" {
  statement {
    actions   = ["aps:QueryMetrics", "aps:GetSeries", "aps:GetLabels", "aps:GetMetricMetadata"]
    resources = [aws_prometheus_workspace.metrics.arn]
  }
}

resource "aws_iam_role_policy" "grafana_amp" {
  name   = "query-amp"
  role   = aws_iam_role.grafana.id
  policy = data.aws_iam_policy_document.grafana_amp.json
}

resource "aws_grafana_workspace" "observability" {
  name                     = "${local.prefix}-${var.grafana_workspace_name}"
  account_access_type      = "CURRENT_ACCOUNT"
  authentication_providers = [var.grafana_authentication]
  permission_type          = "CUSTOMER_MANAGED"
  role_arn                 = aws_iam_role.grafana.arn
  data_sources             = ["CLOUDWATCH", "PROMETHEUS"]
  tags                     = local.tags
}
