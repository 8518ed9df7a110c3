output "bucket" {
  description = "Name of the state bucket (also the resource id and the import id)."
  value       = platform_state_backend.this.id
}

output "bucket_arn" {
  description = "ARN of the state bucket, for IAM policies that grant stacks access to their state."
  value       = platform_state_backend.this.bucket_arn
}

output "lock_table_name" {
  description = "Name of the DynamoDB lock table (the provider default `<bucket>-lock` when `lock_table_name` was null)."
  value       = platform_state_backend.this.lock_table_name
}

output "lock_table_arn" {
  description = "ARN of the DynamoDB lock table."
  value       = platform_state_backend.this.lock_table_arn
}

output "region" {
  description = "Region the bucket and the lock table live in."
  value       = platform_state_backend.this.region
}

output "tags_all" {
  description = "Every tag on the bucket and the table: provider `default_tags`, the module's `tags` and the provider's own `platform:*` tags."
  value       = platform_state_backend.this.tags_all
}

output "backend_config" {
  description = "Settings for a `backend \"s3\"` block: `bucket`, `region`, `dynamodb_table`, `encrypt` and `kms_key_id` (null with SSE-S3)."
  value       = platform_state_backend.this.backend_config
}

output "backend_partial_config" {
  description = "The `backend_config` settings as the body of a partial configuration file, for `terraform init -backend-config=FILE` (each stack adds its own `key`)."
  value       = local.backend_partial_config
}

output "backend_hcl" {
  description = "A ready-to-paste `terraform { backend \"s3\" { ... } }` block for this backend, with `state_key_example` as the key."
  value       = local.backend_hcl
}
