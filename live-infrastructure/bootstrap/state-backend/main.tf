locals {
  # A plain-HTTP emulator (moto) enforces a Deny bucket policy without its
  # aws:SecureTransport condition, so a TLS-only bucket would refuse every state read and write
  # over http://. require_tls = null therefore means "on, unless endpoint_url is http://".
  plain_http_endpoint = var.endpoint_url == null ? false : can(regex("^http://", var.endpoint_url))
  require_tls         = var.require_tls == null ? !local.plain_http_endpoint : var.require_tls

  # Settings the Terraform 1.0 S3 backend needs to talk to a local emulator instead of AWS.
  # (Terraform >= 1.6 spells these `endpoints { s3 = ... }` and `use_path_style`.)
  emulator_backend_settings = var.endpoint_url == null ? "" : join("", [
    "\n",
    "# Local emulator settings (Terraform 1.0 S3 backend)\n",
    "endpoint                    = \"${var.endpoint_url}\"\n",
    "dynamodb_endpoint           = \"${var.endpoint_url}\"\n",
    "sts_endpoint                = \"${var.endpoint_url}\"\n",
    "force_path_style            = true\n",
    "skip_credentials_validation = true\n",
    "skip_region_validation      = true\n",
    "skip_metadata_api_check     = true\n",
  ])
}

module "state_backend" {
  # Relative while the modules live in the same repository; once live-infrastructure/ is its
  # own repository this becomes a git reference to a tagged release of terraform-modules.
  source = "../../../terraform-modules/state-backend"

  bucket_name                        = var.bucket_name
  lock_table_name                    = var.lock_table_name
  kms_key_arn                        = var.kms_key_arn
  require_tls                        = local.require_tls
  noncurrent_version_expiration_days = var.noncurrent_version_expiration_days
  force_destroy                      = var.force_destroy
  state_key_example                  = "management/organization/terraform.tfstate"

  tags = merge({
    purpose = "terraform-state"
  }, var.tags)
}
