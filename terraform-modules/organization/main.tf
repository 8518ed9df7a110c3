# The organization itself: created with all features, or adopted when it already exists (never a
# second one). It enables SCPs (and the other policy types asked for), trusted access for the
# services the platform uses, and the organization trail.
resource "platform_organization" "this" {
  count = var.manage_organization ? 1 : 0

  enabled_policy_types          = var.enabled_policy_types
  aws_service_access_principals = var.aws_service_access_principals

  dynamic "trail" {
    for_each = var.trail_enabled ? [1] : []

    content {
      name               = var.trail_name
      bucket_name        = var.trail_bucket_name
      log_retention_days = var.trail_log_retention_days
      kms_key_arn        = var.trail_kms_key_arn
      force_destroy      = var.trail_force_destroy
    }
  }

  tags = var.tags
}

locals {
  # Where the project OUs go: the given parent, else the organization's root (null lets the
  # provider look the root up when the organization is managed elsewhere).
  ou_parent_id = var.parent_id != null ? var.parent_id : (var.manage_organization ? platform_organization.this[0].root_id : null)
}

# One OU per project, carrying the guardrail SCPs the provider renders and validates.
resource "platform_organizational_unit" "project" {
  for_each = var.projects

  name      = each.value.ou_name
  parent_id = local.ou_parent_id

  guardrails {
    deny_leaving_organization = var.deny_leaving_organization
    protect_flow_logs         = var.protect_flow_logs
    protect_cloudtrail        = var.protect_cloudtrail
    deny_root_user            = var.deny_root_user
    # Empty list in the input means "no region restriction" (null for the provider).
    allowed_regions       = length(each.value.allowed_regions) > 0 ? each.value.allowed_regions : null
    exempt_principal_arns = length(var.exempt_principal_arns) > 0 ? var.exempt_principal_arns : null
  }

  extra_policies = length(each.value.extra_policies) > 0 ? each.value.extra_policies : null

  tags = merge(var.tags, { project = each.key })
}

# One account per environment, placed in its project's OU. Moving an account to another
# project is an in-place move; the account is never closed unless close_on_deletion is set.
resource "platform_org_account" "this" {
  for_each = var.accounts

  name              = each.value.name
  email             = each.value.email
  parent_id         = each.value.project == null ? null : platform_organizational_unit.project[each.value.project].id
  role_name         = var.role_name
  close_on_deletion = var.close_on_deletion
  # Destroy moves the account here (the root by default) before forgetting or after closing it,
  # so its OU can be destroyed in the same run.
  retired_parent_id = var.retired_parent_id

  tags = merge(var.tags, each.value.project == null ? {} : { project = each.value.project }, {
    environment_key = each.key
  })

  timeouts {
    create = var.account_create_timeout
  }

  # project = null leaves parent_id out (the account sits at the root), so nothing else orders
  # the account after the organization it is created in.
  depends_on = [platform_organization.this]
}
