# Minimal use of platform_state_backend: a versioned, encrypted, TLS-only state bucket with
# public access blocked, plus its DynamoDB lock table, from one resource.
#
#   terraform init && terraform apply -var bucket=<globally-unique-name>
#
# For a local emulator add -var endpoint_url=http://127.0.0.1:5000.

terraform {
  required_version = ">= 1.0.0"

  required_providers {
    platform = {
      source  = "platformkit/platform"
      version = ">= 0.1.0"
    }
  }
}

variable "bucket" {
  description = "Name of the state bucket."
  type        = string
  default     = "platformkit-example-tfstate"
}

variable "endpoint_url" {
  description = "Base URL of a local AWS emulator; null means real AWS."
  type        = string
  default     = null
}

provider "platform" {
  region = "us-east-1"

  dynamic "endpoints" {
    for_each = var.endpoint_url == null ? [] : [var.endpoint_url]

    content {
      url = endpoints.value
    }
  }
}

resource "platform_state_backend" "this" {
  bucket = var.bucket

  # Everything else has a secure default: SSE-S3 encryption (kms_key_arn = null), a TLS-only
  # bucket policy (require_tls = true), non-current versions kept 90 days, a lock table named
  # "<bucket>-lock", and destroy refused while the bucket is not empty (force_destroy = false).

  tags = {
    purpose = "terraform-state"
  }
}

output "backend_config" {
  description = "Settings for other stacks' backend \"s3\" blocks."
  value       = platform_state_backend.this.backend_config
}
