output "bucket" {
  description = "Name of the state bucket."
  value       = module.state_backend.bucket
}

output "lock_table_name" {
  description = "Name of the DynamoDB lock table."
  value       = module.state_backend.lock_table_name
}

output "region" {
  description = "Region of the bucket and the table."
  value       = module.state_backend.region
}

output "require_tls" {
  description = "Whether the TLS-only bucket policy is attached."
  value       = local.require_tls
}

output "backend_config" {
  description = "Object with bucket, region, dynamodb_table, encrypt and kms_key_id."
  value       = module.state_backend.backend_config
}

output "backend_hcl" {
  description = "Ready-to-paste `terraform { backend \"s3\" { ... } }` block (real AWS settings)."
  value       = module.state_backend.backend_hcl
}

output "backend_settings" {
  description = "Every setting step 2's `terraform init` needs, as a map of strings: one `-backend-config=NAME=VALUE` flag each. Includes the emulator settings when endpoint_url is set."
  value       = local.backend_settings
}

output "backend_config_flags" {
  description = "The same settings as ready-made `-backend-config=NAME=VALUE` arguments."
  value       = [for name in sort(keys(local.backend_settings)) : "-backend-config=${name}=${local.backend_settings[name]}"]
}

output "backend_partial_config" {
  description = "The same settings as the body of a partial configuration file, for `-backend-config=FILE`."
  value = join("", [
    for name in sort(keys(local.backend_settings)) :
    contains(["encrypt", "force_path_style", "skip_credentials_validation", "skip_region_validation", "skip_metadata_api_check"], name)
    ? "${name} = ${local.backend_settings[name]}\n"
    : "${name} = \"${local.backend_settings[name]}\"\n"
  ])
}
