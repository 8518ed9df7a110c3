output "bucket_name" {
  description = "Name of the origin bucket (where the pipeline syncs the build)."
  value       = platform_frontend.this.bucket_name
}

output "bucket_arn" {
  description = "ARN of the origin bucket."
  value       = platform_frontend.this.bucket_arn
}

output "distribution_id" {
  description = "Id of the CloudFront distribution."
  value       = platform_frontend.this.distribution_id
}

output "distribution_arn" {
  description = "ARN of the CloudFront distribution."
  value       = platform_frontend.this.distribution_arn
}

output "domain_name" {
  description = "Domain name of the distribution (d111111abcdef8.cloudfront.net)."
  value       = platform_frontend.this.domain_name
}

output "zone_id" {
  description = "Id of the Route53 zone holding the alias records."
  value       = platform_frontend.this.zone_id
}

output "name_servers" {
  description = "Name servers of the zone: delegate the domain to them when the zone was created here."
  value       = platform_frontend.this.name_servers
}

output "sync_command" {
  description = "The command the frontend pipeline runs to publish ./dist."
  value       = platform_frontend.this.sync_command
}

output "invalidation_command" {
  description = "The command the frontend pipeline runs after the sync."
  value       = platform_frontend.this.invalidation_command
}
