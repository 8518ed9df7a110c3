# Benchmark configuration (bench/scale.py): the management stack of ../../platform/management/main.tf
# written with hashicorp/aws 3.39.0 resources, against moto on 127.0.0.1: the organization (SCPs enabled,
# CloudTrail trusted access), one OU per project with two SCPs attached (var.guardrail_documents: the
# very documents platform renders for the same guardrails, taken from its plan by bench/scale.py), and
# three accounts per project (dev, qa, prod) in their project's OU. No organization trail on either side.

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
  description = "How many accounts (three per project: dev, qa, prod)."
  type        = number
}

variable "guardrail_documents" {
  description = "Guardrail key => SCP document (JSON), attached to every project OU."
  type        = map(string)
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
    organizations = var.endpoint
    iam           = var.endpoint
    sts           = var.endpoint
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
  # project x guardrail key
  policies = { for pair in setproduct(keys(local.projects), keys(var.guardrail_documents)) : "${pair[0]}/${pair[1]}" => {
    project = pair[0]
    key     = pair[1]
  } }
}

resource "aws_organizations_organization" "this" {
  feature_set                   = "ALL"
  enabled_policy_types          = ["SERVICE_CONTROL_POLICY"]
  aws_service_access_principals = ["cloudtrail.amazonaws.com"]
}

resource "aws_organizations_organizational_unit" "project" {
  for_each = local.projects

  name      = each.value
  parent_id = aws_organizations_organization.this.roots[0].id

  tags = {
    managed-from = "bench/scale/management"
    project      = each.key
  }
}

resource "aws_organizations_policy" "guardrail" {
  for_each = local.policies

  name        = "${local.projects[each.value.project]}-${each.value.key}"
  description = "guardrail ${each.value.key} for OU ${local.projects[each.value.project]}"
  type        = "SERVICE_CONTROL_POLICY"
  content     = var.guardrail_documents[each.value.key]

  tags = {
    managed-from = "bench/scale/management"
    project      = each.value.project
  }

  # Nothing else orders a policy after the organization it belongs to (moto answers a
  # CreatePolicy before the organization exists with a 500, which the provider retries).
  depends_on = [aws_organizations_organization.this]
}

resource "aws_organizations_policy_attachment" "guardrail" {
  for_each = local.policies

  policy_id = aws_organizations_policy.guardrail[each.key].id
  target_id = aws_organizations_organizational_unit.project[each.value.project].id
}

resource "aws_organizations_account" "this" {
  for_each = local.accounts

  name      = each.value.name
  email     = each.value.email
  parent_id = aws_organizations_organizational_unit.project[each.value.project].id
  role_name = "OrganizationAccountAccessRole"

  tags = {
    managed-from    = "bench/scale/management"
    project         = each.value.project
    environment_key = each.key
  }
}
