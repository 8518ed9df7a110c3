output "organization_id" {
  description = "The organization id (o-...)."
  value       = module.organization.organization_id
}

output "root_id" {
  description = "The organization root id (r-...)."
  value       = module.organization.root_id
}

output "trail_arn" {
  description = "ARN of the organization trail."
  value       = module.organization.trail_arn
}

output "trail_bucket_arn" {
  description = "ARN of the organization trail's bucket."
  value       = module.organization.trail_bucket_arn
}

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
