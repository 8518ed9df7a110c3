# The management account only governs: this stack runs with its credentials, pinned to it.
provider "platform" {
  region              = var.region
  allowed_account_ids = var.allowed_account_ids

  # Absent unless endpoint_url is set: real AWS by default, a local emulator otherwise.
  dynamic "endpoints" {
    for_each = var.endpoint_url == null ? [] : [var.endpoint_url]

    content {
      url = endpoints.value
    }
  }

  default_tags {
    tags = merge(var.default_tags, {
      stack = "live-infrastructure/management"
    })
  }
}
