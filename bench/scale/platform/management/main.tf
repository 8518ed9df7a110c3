# Benchmark configuration (bench/scale.py): the management stack (live-infrastructure/management, through
# terraform-modules/organization) grown to var.size accounts, against moto on 127.0.0.1: the organization
# (SCPs enabled, CloudTrail trusted access), one OU per project with its guardrail SCPs (deny leaving the
# organization, protect flow logs and CloudTrail, deny the root user, allowed regions; exempt principals),
# and three accounts per project (dev, qa, prod) placed in their project's OU. The organization trail is
# off here and in the peer (it does not grow with the accounts). The same objects written for
# hashicorp/aws 3.39.0 are in ../../aws/management/main.tf.
#
# bench/scale.py runs a copy of this file elsewhere and rewrites the module source to reach the module.

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
  description = "How many accounts (three per project: dev, qa, prod)."
  type        = number
}

provider "platform" {
  region = "us-east-1"
  endpoints {
    url = var.endpoint
  }
  default_tags {
    tags = {
      stack = "bench/scale/management"
    }
  }
}

locals {
  environments = { dev = "Dev", qa = "QA", prod = "Prod" }
  projects     = { for i in range(ceil(var.size / 3)) : format("project-%02d", i) => format("OU-Project-%02d", i) }
  accounts = { for pair in slice(flatten([
    for pk, ou in local.projects : [for ek, e in local.environments : { key = "${pk}-${ek}", project = pk, name = "${pk}-${e}" }]
    ]), 0, var.size) : pair.key => {
    project = pair.project
    name    = pair.name
    email   = "aws+${pair.key}@example.com"
  } }
}

module "organization" {
  source = "../../../../terraform-modules/organization"

  projects = { for pk, ou in local.projects : pk => {
    ou_name         = ou
    allowed_regions = ["us-east-1", "eu-central-1"]
    extra_policies  = {}
  } }
  accounts              = local.accounts
  exempt_principal_arns = ["arn:aws:iam::*:role/breakglass"]
  trail_enabled         = false

  tags = {
    managed-from = "bench/scale/management"
  }
}
