variable "platform" {
  description = "The inventory's platform name (platform.yaml: platform)."
  type        = string
}

variable "environment" {
  description = "The inventory environment (staging, prod)."
  type        = string
}

variable "image" {
  description = "The toolkit's image (the repository's Dockerfile), by digest."
  type        = string
}

variable "runbook_policies" {
  description = "Runbook name => the JSON policy `ops runbook iam NAME --env ENV` prints (the drill's least privilege), one inline policy of the task role each; e.g. { \"rds-pitr\" = file(\"rds-pitr.json\") }."
  type        = map(string)
  default     = {}
}

variable "vpc_id" {
  description = "The VPC the drill tasks run in."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets for the tasks (with a NAT or VPC endpoints for ECR, logs and the AWS APIs the runbooks call)."
  type        = list(string)
}

variable "database_cidrs" {
  description = "Where the databases rds-pitr restores are (its data checks connect on 5432)."
  type        = list(string)
  default     = []
}

variable "cpu" {
  description = "CPU units of a drill task (1024 = 1 vCPU)."
  type        = number
  default     = 512
}

variable "memory" {
  description = "Memory of a drill task, MiB."
  type        = number
  default     = 1024
}

variable "log_retention_days" {
  description = "How long the drill tasks' logs are kept (a year: drills are evidence for audits)."
  type        = number
  default     = 400
}

variable "tags" {
  description = "Tags for every resource (the inventory's ownership tags are added)."
  type        = map(string)
  default     = {}
}
