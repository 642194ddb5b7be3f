variable "platform" {
  description = "The inventory's platform name (platform.yaml: platform)."
  type        = string
}

variable "environment" {
  description = "The inventory environment (staging, prod)."
  type        = string
}

variable "vpc_id" {
  description = "The VPC the load generators run in (it must reach the ingest API)."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets for the tasks (with a NAT or VPC endpoints for ECR, S3 and logs)."
  type        = list(string)
}

variable "runner_cidrs" {
  description = "Where `ops loadtest` runs (a bastion, a CI runner, a VPN): it reads the master's web API on 8089."
  type        = list(string)
  default     = []
}

variable "image" {
  description = "The load-test image (loadtest/Dockerfile), by digest."
  type        = string
}

variable "master_cpu" {
  description = "CPU units of the master task (1024 = 1 vCPU)."
  type        = number
  default     = 1024
}

variable "master_memory" {
  description = "Memory of the master task, MiB."
  type        = number
  default     = 2048
}

variable "worker_cpu" {
  description = "CPU units of a worker task; a campaign may ask for another size."
  type        = number
  default     = 2048
}

variable "worker_memory" {
  description = "Memory of a worker task, MiB."
  type        = number
  default     = 4096
}

variable "log_retention_days" {
  description = "How long the tasks' logs are kept."
  type        = number
  default     = 30
}

variable "results_retention_days" {
  description = "How long campaign results are kept in the bucket."
  type        = number
  default     = 400
}

variable "tags" {
  description = "Tags for every resource (the inventory's ownership tags are added)."
  type        = map(string)
  default     = {}
}
