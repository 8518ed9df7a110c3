# The remote-state foundation: one S3 bucket (versioned, encrypted, public access blocked,
# bucket-owner-enforced, optionally TLS-only) and one DynamoDB lock table with a `LockID`
# hash key, created and kept in step by a single composite resource.
#
# The provider owns every secure default and the naming/range rules; this module only gives
# the inputs the same names as the rest of terraform-modules/ and renders the values a caller
# needs to point other stacks at the backend.

resource "platform_state_backend" "this" {
  bucket                             = var.bucket_name
  lock_table_name                    = var.lock_table_name
  kms_key_arn                        = var.kms_key_arn
  require_tls                        = var.require_tls
  noncurrent_version_expiration_days = var.noncurrent_version_expiration_days
  force_destroy                      = var.force_destroy
  tags                               = var.tags
}

locals {
  backend = platform_state_backend.this.backend_config

  # One `name = value` line per backend setting, `=` aligned as `terraform fmt` would align
  # them. `kms_key_id` only appears for SSE-KMS: with SSE-S3, `encrypt = true` is enough.
  bucket_setting = "bucket         = \"${local.backend.bucket}\""
  key_setting    = "key            = \"${var.state_key_example}\""
  other_settings = compact([
    "region         = \"${local.backend.region}\"",
    "dynamodb_table = \"${local.backend.dynamodb_table}\"",
    "encrypt        = ${local.backend.encrypt}",
    local.backend.kms_key_id == null ? "" : "kms_key_id     = \"${local.backend.kms_key_id}\"",
  ])

  # Body of a partial configuration file for `terraform init -backend-config=FILE`; the key is
  # left out because every stack sets its own.
  backend_partial_config = join("", [
    for line in concat([local.bucket_setting], local.other_settings) : "${line}\n"
  ])

  # A whole `terraform { backend "s3" { ... } }` block, ready to paste into a backend.tf.
  backend_hcl = join("", concat(
    ["terraform {\n", "  backend \"s3\" {\n"],
    [for line in concat([local.bucket_setting, local.key_setting], local.other_settings) : "    ${line}\n"],
    ["  }\n", "}\n"],
  ))
}
