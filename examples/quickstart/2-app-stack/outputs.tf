output "app_bucket" {
  description = "Name of the app bucket."
  value       = platform_state_backend.app.id
}

output "app_bucket_arn" {
  description = "ARN of the app bucket."
  value       = platform_state_backend.app.bucket_arn
}

output "app_lock_table_name" {
  description = "Name of the app bucket's lock table."
  value       = platform_state_backend.app.lock_table_name
}

output "app_tags_all" {
  description = "Tags on the app bucket: the provider's default_tags, the resource's tags and the platform:* tags."
  value       = platform_state_backend.app.tags_all
}
