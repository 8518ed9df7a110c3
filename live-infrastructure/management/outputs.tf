output "ou_ids" {
  description = "Project key => OU id."
  value       = module.organization.ou_ids
}

output "account_ids" {
  description = "Account key (project-a-dev, ...) => account id: the environment stack's `allowed_account_ids`."
  value       = module.organization.account_ids
}

output "account_role_arns" {
  description = "Account key => role ARN: the environment stack's `assume_role.role_arn`."
  value       = module.organization.account_role_arns
}

output "policy_ids" {
  description = "Project key => { policy key => SCP id }."
  value       = module.organization.policy_ids
}
