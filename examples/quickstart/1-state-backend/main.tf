provider "platform" {
  region = var.region

  # Absent when endpoint_url is null: then the provider talks to real AWS.
  dynamic "endpoints" {
    for_each = var.endpoint_url == null ? [] : [var.endpoint_url]

    content {
      url = endpoints.value
    }
  }

  default_tags {
    tags = {
      example = "quickstart"
    }
  }
}

locals {
  # A plain-HTTP emulator (moto) enforces a Deny bucket policy without its
  # aws:SecureTransport condition, so a TLS-only bucket would refuse step 2's state reads and writes.
  plain_http_endpoint = var.endpoint_url == null ? false : can(regex("^http://", var.endpoint_url))
  require_tls         = var.require_tls == null ? !local.plain_http_endpoint : var.require_tls

  # What the Terraform 1.0 S3 backend needs, besides the bucket settings, to use an emulator.
  emulator_backend_settings = var.endpoint_url == null ? {} : {
    endpoint                    = var.endpoint_url
    dynamodb_endpoint           = var.endpoint_url
    sts_endpoint                = var.endpoint_url
    force_path_style            = "true"
    skip_credentials_validation = "true"
    skip_region_validation      = "true"
    skip_metadata_api_check     = "true"
  }

  backend_settings = merge(
    {
      bucket         = module.state_backend.backend_config.bucket
      region         = module.state_backend.backend_config.region
      dynamodb_table = module.state_backend.backend_config.dynamodb_table
      encrypt        = tostring(module.state_backend.backend_config.encrypt)
    },
    module.state_backend.backend_config.kms_key_id == null ? {} : {
      kms_key_id = module.state_backend.backend_config.kms_key_id
    },
    local.emulator_backend_settings,
  )
}

module "state_backend" {
  source = "../../../terraform-modules/state-backend"

  bucket_name       = var.bucket_name
  require_tls       = local.require_tls
  force_destroy     = var.force_destroy
  state_key_example = "quickstart/app-stack/terraform.tfstate"

  # A quickstart keeps few old state versions.
  noncurrent_version_expiration_days = 7

  tags = {
    purpose = "terraform-state"
  }
}
