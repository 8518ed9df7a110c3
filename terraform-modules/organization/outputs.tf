output "organization_id" {
  description = "The organization id (o-...); null when manage_organization is false."
  value       = var.manage_organization ? platform_organization.this[0].id : null
}

output "root_id" {
  description = "The organization root id (r-...); null when manage_organization is false."
  value       = var.manage_organization ? platform_organization.this[0].root_id : null
}

output "management_account_id" {
  description = "The management account id; null when manage_organization is false."
  value       = var.manage_organization ? platform_organization.this[0].management_account_id : null
}

output "trail_arn" {
  description = "ARN of the organization trail (null without it)."
  value       = var.manage_organization ? platform_organization.this[0].trail_arn : null
}

output "trail_bucket_arn" {
  description = "ARN of the trail's S3 bucket (null without it)."
  value       = var.manage_organization ? platform_organization.this[0].trail_bucket_arn : null
}

output "trail_log_group_arn" {
  description = "ARN of the trail's CloudWatch log group (null without it)."
  value       = var.manage_organization ? platform_organization.this[0].trail_log_group_arn : null
}

output "ou_ids" {
  description = "Project key => OU id."
  value       = { for k, ou in platform_organizational_unit.project : k => ou.id }
}

output "ou_arns" {
  description = "Project key => OU ARN."
  value       = { for k, ou in platform_organizational_unit.project : k => ou.arn }
}

output "policy_ids" {
  description = "Project key => { policy key => SCP id } of the guardrail and extra policies attached to the OU."
  value       = { for k, ou in platform_organizational_unit.project : k => ou.policy_ids }
}

output "policy_documents" {
  description = "Project key => { policy key => rendered SCP JSON }."
  value       = { for k, ou in platform_organizational_unit.project : k => ou.policy_documents }
}

output "account_ids" {
  description = "Account key => 12-digit account id (for `allowed_account_ids` of the account's stacks)."
  value       = { for k, a in platform_org_account.this : k => a.id }
}

output "account_role_arns" {
  description = "Account key => ARN of the access role to assume (for `assume_role.role_arn` of the account's stacks)."
  value       = { for k, a in platform_org_account.this : k => a.access_role_arn }
}

output "accounts" {
  description = "Account key => { id, arn, email, ou_id, role_arn, status }."
  value = { for k, a in platform_org_account.this : k => {
    id       = a.id
    arn      = a.arn
    email    = a.email
    ou_id    = a.parent_id
    role_arn = a.access_role_arn
    status   = a.status
  } }
}
