# The frontend's stack: a private bucket behind a CloudFront distribution (terraform-modules/frontend).
# The pipeline reads bucket_name and distribution_id from `terraform output` of this stack; in a real
# setup it lives in live-infrastructure with its own remote state.
terraform {
  required_version = ">= 1.0.0"

  required_providers {
    platform = {
      source  = "platformkit/platform"
      version = ">= 0.1.0"
    }
  }
}

variable "name" {
  description = "Name of the frontend (bucket and distribution)."
  type        = string
  default     = "platformkit-example-web"
}

variable "endpoint_url" {
  description = "Base URL of a local AWS emulator (for example http://127.0.0.1:5000). Null means real AWS."
  type        = string
  default     = null
}

variable "require_tls" {
  description = "TLS-only bucket policy. Keep true on AWS; a plain-HTTP emulator cannot serve uploads under it."
  type        = bool
  default     = true
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

module "frontend" {
  source = "../../../terraform-modules/frontend"

  name          = var.name
  require_tls   = var.require_tls
  force_destroy = true
}

output "bucket_name" {
  description = "Where the pipeline uploads the build."
  value       = module.frontend.bucket_name
}

output "distribution_id" {
  description = "The distribution whose unhashed paths the pipeline invalidates."
  value       = module.frontend.distribution_id
}
