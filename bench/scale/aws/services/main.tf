# Benchmark configuration (bench/scale.py): the services of ../../platform/services/main.tf written with
# hashicorp/aws 3.39.0 resources, against moto on 127.0.0.1. Per service: the ECR repository (immutable
# tags, scan on push, AES256), its lifecycle policy and repository policy (the same documents platform
# renders: untagged images expire after 7 days, the 30 newest are kept; pull for the node role), the
# IRSA role (trust scoped to system:serviceaccount:apps:<name>) and its inline policy: five resources.

terraform {
  required_version = ">= 1.0"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "3.39.0"
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

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  skip_get_ec2_platforms      = true

  endpoints {
    ecr = var.endpoint
    iam = var.endpoint
    sts = var.endpoint
  }
}

locals {
  issuer_host = "oidc.eks.us-east-1.amazonaws.com/id/BENCHSCALE"
  oidc_arn    = "arn:aws:iam::123456789012:oidc-provider/${local.issuer_host}"
  node_role   = "arn:aws:iam::123456789012:role/bench-scale-nodes"
  services    = toset([for i in range(var.size) : format("aws-%03d", i)])
}

resource "aws_ecr_repository" "svc" {
  for_each = local.services

  name                 = each.key
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "AES256"
  }

  tags = {
    service            = each.key
    "bench:cluster"    = "bench-scale"
    "bench:managed-by" = "terraform"
  }
}

resource "aws_ecr_lifecycle_policy" "svc" {
  for_each = local.services

  repository = aws_ecr_repository.svc[each.key].name
  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Expire untagged images after 7 days"
        selection    = { tagStatus = "untagged", countType = "sinceImagePushed", countUnit = "days", countNumber = 7 }
        action       = { type = "expire" }
      },
      {
        rulePriority = 2
        description  = "Keep the 30 most recent images"
        selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = 30 }
        action       = { type = "expire" }
      },
    ]
  })
}

resource "aws_ecr_repository_policy" "svc" {
  for_each = local.services

  repository = aws_ecr_repository.svc[each.key].name
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "PlatformPull"
      Effect    = "Allow"
      Principal = { AWS = [local.node_role] }
      Action    = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    }]
  })
}

resource "aws_iam_role" "svc" {
  for_each = local.services

  name        = "${each.key}-irsa"
  description = "IRSA role of the ${each.key} service"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "ServiceAccountOnly"
      Effect    = "Allow"
      Principal = { Federated = local.oidc_arn }
      Action    = "sts:AssumeRoleWithWebIdentity"
      Condition = {
        StringEquals = {
          "${local.issuer_host}:sub" = "system:serviceaccount:apps:${each.key}"
          "${local.issuer_host}:aud" = "sts.amazonaws.com"
        }
      }
    }]
  })

  tags = {
    service            = each.key
    "bench:managed-by" = "terraform"
  }
}

resource "aws_iam_role_policy" "svc" {
  for_each = local.services

  name = "platformkit-service"
  role = aws_iam_role.svc[each.key].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["s3:GetObject"]
      Resource = ["arn:aws:s3:::bench-scale-${each.key}/*"]
    }]
  })
}
