provider "platform" {
  region              = var.region
  allowed_account_ids = var.allowed_account_ids

  dynamic "endpoints" {
    for_each = var.endpoint_url == null ? [] : [var.endpoint_url]

    content {
      url = endpoints.value
    }
  }

  default_tags {
    tags = {
      stack = "live-infrastructure/bootstrap/remote-state-demo"
    }
  }
}
