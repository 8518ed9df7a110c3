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
