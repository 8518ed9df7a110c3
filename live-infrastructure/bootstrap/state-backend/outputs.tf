output "bucket" {
  description = "Name of the state bucket."
  value       = module.state_backend.bucket
}

output "bucket_arn" {
  description = "ARN of the state bucket."
  value       = module.state_backend.bucket_arn
}

output "lock_table_name" {
  description = "Name of the DynamoDB lock table."
  value       = module.state_backend.lock_table_name
}

output "lock_table_arn" {
  description = "ARN of the DynamoDB lock table."
  value       = module.state_backend.lock_table_arn
}

output "region" {
  description = "Region of the bucket and the table."
  value       = module.state_backend.region
}

output "require_tls" {
  description = "Whether the TLS-only bucket policy is attached (false only for a plain-HTTP emulator or when turned off)."
  value       = local.require_tls
}

output "backend_config" {
  description = "Object with bucket, region, dynamodb_table, encrypt and kms_key_id, for every other stack's `backend \"s3\"` block."
  value       = module.state_backend.backend_config
}

output "backend_hcl" {
  description = "A ready-to-paste `terraform { backend \"s3\" { ... } }` block (real AWS settings)."
  value       = module.state_backend.backend_hcl
}

output "backend_partial_config" {
  description = "Partial backend configuration file body for `terraform init -backend-config=FILE`; includes the emulator settings when endpoint_url is set. Each stack sets its own key."
  value       = "${module.state_backend.backend_partial_config}${local.emulator_backend_settings}"
}
