provider "platform" {
  region = var.region

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

# The "application" this stack deploys. Only one resource type exists so far, so the payload is
# another state backend: an artifacts bucket (and its lock table) that may be thrown away.
resource "platform_state_backend" "app" {
  bucket        = var.app_bucket_name
  force_destroy = true

  # require_tls keeps its default (true) even on the emulator: nothing reads or writes
  # objects in this bucket, and moto only refuses object reads and writes under that policy.

  noncurrent_version_expiration_days = 7

  tags = {
    purpose = "quickstart-app"
  }
}
