# An environment stack deploying into its own member account: the provider assumes the
# account's access role (from the management stack's outputs) and is pinned to that account.
terraform {
  required_version = ">= 1.0.0"

  required_providers {
    platform = {
      source  = "platformkit/platform"
      version = ">= 0.1.0"
    }
  }
}

variable "account_id" {
  description = "The member account (management stack output account_ids[<key>])."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "The account id must be 12 digits."
  }
}

variable "role_arn" {
  description = "The role to assume (management stack output account_role_arns[<key>])."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", var.role_arn))
    error_message = "The role_arn must be an IAM role ARN."
  }
}

variable "bucket_name" {
  description = "The member account's state bucket."
  type        = string
}

variable "region" {
  description = "AWS region."
  type        = string
  default     = "us-east-1"
}

variable "endpoint_url" {
  description = "Base URL of a local AWS emulator; null means real AWS."
  type        = string
  default     = null
}

provider "platform" {
  region              = var.region
  allowed_account_ids = [var.account_id]

  assume_role {
    role_arn     = var.role_arn
    session_name = "member-account-example"
  }

  dynamic "endpoints" {
    for_each = var.endpoint_url == null ? [] : [var.endpoint_url]

    content {
      url = endpoints.value
    }
  }
}

resource "platform_state_backend" "this" {
  bucket = var.bucket_name
  # A plain-http emulator cannot serve a TLS-only bucket; on AWS keep the policy.
  require_tls = var.endpoint_url == null ? true : !can(regex("^http://", var.endpoint_url))
}

output "backend_config" {
  value = platform_state_backend.this.backend_config
}
