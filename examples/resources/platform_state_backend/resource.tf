resource "platform_state_backend" "this" {
  bucket = "acme-prod-tfstate"
  tags   = { team = "platform" }
}

# { bucket, region, dynamodb_table, encrypt, kms_key_id } for `terraform init -backend-config=...`
output "backend" {
  value = platform_state_backend.this.backend_config
}
