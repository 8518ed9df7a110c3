locals {
  projects = {
    project-a = { ou_name = "OU-Project-A", display = "ProjectA" }
    project-b = { ou_name = "OU-Project-B", display = "ProjectB" }
  }
  environments = {
    dev  = "Dev"
    qa   = "QA"
    prod = "Prod"
  }

  # project-a-dev = { project = "project-a", name = "ProjectA-Dev", email = "aws+project-a-dev@example.com" }, ...
  accounts = merge([
    for pk, p in local.projects : {
      for ek, e in local.environments : "${pk}-${ek}" => {
        project = pk
        name    = "${p.display}-${e}"
        email   = "${var.email_local_part}+${pk}-${ek}@${var.email_domain}"
      }
    }
  ]...)

  # Bucket names are global: default to one derived from the email domain (acme.example =>
  # acme-example-organization-trail).
  trail_bucket_name = var.trail_bucket_name != null ? var.trail_bucket_name : "${replace(var.email_domain, ".", "-")}-organization-trail"
}

module "organization" {
  source = "../../terraform-modules/organization"

  projects = {
    for pk, p in local.projects : pk => {
      ou_name         = p.ou_name
      allowed_regions = var.allowed_regions
      extra_policies  = {}
    }
  }
  accounts              = local.accounts
  exempt_principal_arns = var.exempt_principal_arns

  # The organization itself (created, or adopted if it exists) and its trail.
  trail_bucket_name        = local.trail_bucket_name
  trail_log_retention_days = var.trail_log_retention_days

  tags = {
    managed-from = "live-infrastructure/management"
  }
}
