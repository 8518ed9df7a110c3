variable "region" {
  description = "AWS region of the environment."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]+$", var.region))
    error_message = "The region must be an AWS region name such as us-east-1."
  }
}

variable "vpc_cidr" {
  description = "The environment's VPC CIDR; distinct per environment so VPCs can be peered later."
  type        = string
}

variable "availability_zones" {
  description = "Availability zones of the environment (2 to 6)."
  type        = list(string)
}

variable "tags" {
  description = "Extra tags for every object of the environment."
  type        = map(string)
  default     = {}
}

variable "assume_role_arn" {
  description = "Role to assume in the environment's account (from the Organizations stacks). Null: the caller's own identity."
  type        = string
  default     = null
}

variable "endpoint_url" {
  description = "Base URL of a local AWS emulator (for example http://127.0.0.1:5000). Null means real AWS."
  type        = string
  default     = null
}

variable "allowed_account_ids" {
  description = "Account ids the provider may act in. Null disables the guard."
  type        = list(string)
  default     = null

  validation {
    condition     = var.allowed_account_ids == null ? true : alltrue([for id in var.allowed_account_ids : can(regex("^[0-9]{12}$", id))])
    error_message = "Every allowed account id must be 12 digits."
  }
}
