# Benchmark configuration (bench/scale.py): var.size platform_microservice resources on one environment,
# against moto on 127.0.0.1. Each service is an ECR repository (immutable tags, scan on push, AES256,
# lifecycle and repository policies) and an IRSA role with one inline policy. The environment is given
# as an object (no platform_environment: the cost of the services alone is measured). The same objects
# written for hashicorp/aws 3.39.0 are in ../../aws/services/main.tf.

terraform {
  required_version = ">= 1.0"
  required_providers {
    platform = {
      source  = "platformkit/platform"
      version = "0.1.0"
    }
  }
}

variable "endpoint" {
  description = "URL of the local AWS endpoint (moto), e.g. http://127.0.0.1:5000."
  type        = string

  validation {
    condition     = can(regex("^http://127\\.0\\.0\\.1:[0-9]+$", var.endpoint))
    error_message = "The endpoint must be a moto server on 127.0.0.1."
  }
}

variable "size" {
  description = "How many services."
  type        = number
}

# Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (test values set by the runner).
provider "platform" {
  region = "us-east-1"
  endpoints {
    url = var.endpoint
  }
}

locals {
  # moto's default account; the OIDC provider and node role are only named, never looked up.
  issuer = "https://oidc.eks.us-east-1.amazonaws.com/id/BENCHSCALE"
  environment = {
    cluster_name      = "bench-scale"
    oidc_issuer_url   = local.issuer
    oidc_provider_arn = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/BENCHSCALE"
    node_role_arn     = "arn:aws:iam::123456789012:role/bench-scale-nodes"
  }
  services = toset([for i in range(var.size) : format("svc-%03d", i)])
}

resource "platform_microservice" "svc" {
  for_each = local.services

  name        = each.key
  environment = local.environment
  image_tag   = "1.0.0"
  namespace   = "apps"

  iam_policy_json = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["s3:GetObject"]
      Resource = ["arn:aws:s3:::bench-scale-${each.key}/*"]
    }]
  })

  tags = {
    service = each.key
  }
}
