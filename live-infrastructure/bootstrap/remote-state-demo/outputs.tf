output "demo_bucket" {
  description = "Name of the demo bucket whose existence is recorded in the remote state."
  value       = platform_state_backend.demo_artifacts.id
}

output "demo_bucket_arn" {
  description = "ARN of the demo bucket."
  value       = platform_state_backend.demo_artifacts.bucket_arn
}

output "demo_lock_table_name" {
  description = "Name of the demo bucket's own lock table (unused; every state backend comes with one)."
  value       = platform_state_backend.demo_artifacts.lock_table_name
}
