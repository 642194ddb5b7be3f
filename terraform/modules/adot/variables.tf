variable "platform" {
  description = "The inventory's platform name (platform.yaml: platform)."
  type        = string
}

variable "environment" {
  description = "The inventory environment (staging, prod)."
  type        = string
}

variable "cluster_name" {
  description = "The ECS cluster of the adot component (platform.yaml: adot.ecs_cluster), prefixed."
  type        = string
}

variable "collector_name" {
  description = "The gateway collector's name (platform.yaml: adot.collectors, mode gateway)."
  type        = string
  default     = "gateway"
}

variable "collector_image" {
  description = "The ADOT collector image, by tag or digest; recorded for the toolkit's task definition."
  type        = string
}

variable "create_service" {
  description = "Create the service once `ops observe apply` has registered the task definition (first apply: false)."
  type        = bool
  default     = true
}

variable "desired_count" {
  description = "Gateway tasks (2 or more: one per availability zone)."
  type        = number
  default     = 2
}

variable "vpc_id" {
  description = "The VPC of the cluster."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets for the gateway tasks."
  type        = list(string)
}

variable "client_cidrs" {
  description = "Who sends OTLP to the gateway (the VPC's CIDR, usually)."
  type        = list(string)
}

variable "amp_workspace_arn" {
  description = "terraform/modules/observability's amp_workspace_arn."
  type        = string
}

variable "tags" {
  description = "Tags for every resource (the inventory's ownership tags are added)."
  type        = map(string)
  default     = {}
}
