# One OU per project, carrying the guardrail SCPs the provider renders and validates.
resource "platform_organizational_unit" "project" {
  for_each = var.projects

  name      = each.value.ou_name
  parent_id = var.parent_id

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
  parent_id         = platform_organizational_unit.project[each.value.project].id
  role_name         = var.role_name
  close_on_deletion = var.close_on_deletion

  tags = merge(var.tags, {
    project         = each.value.project
    environment_key = each.key
  })

  timeouts {
    create = var.account_create_timeout
  }
}
