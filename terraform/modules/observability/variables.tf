variable "platform" {
  description = "The inventory's platform name (platform.yaml: platform)."
  type        = string
}

variable "environment" {
  description = "The inventory environment (staging, prod)."
  type        = string
}

variable "severities" {
  description = "Alarm severities, one SNS topic each (platform.yaml: notifications)."
  type        = map(string)
  default = {
    critical = "alerts-critical"
    warning  = "alerts-warning"
    info     = "alerts-info"
  }
}

variable "grafana_workspace_name" {
  description = "The grafana component's workspace_name (platform.yaml)."
  type        = string
  default     = "observability"
}

variable "grafana_authentication" {
  description = "AWS_SSO or SAML (platform.yaml: grafana.authentication)."
  type        = string
  default     = "AWS_SSO"
}

variable "log_retention_days" {
  description = "Retention of the AMP workspace's own log group (platform.yaml: logs.retention_days)."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags for every resource (the inventory's ownership tags are added)."
  type        = map(string)
  default     = {}
}
