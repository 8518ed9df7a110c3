provider "platform" {
  region              = var.region
  allowed_account_ids = var.allowed_account_ids

  # Absent unless a role is given: run as the caller's own identity by default, or assume a
  # role to bootstrap the backend of another account of the organization.
  dynamic "assume_role" {
    for_each = var.assume_role_arn == null ? [] : [var.assume_role_arn]

    content {
      role_arn     = assume_role.value
      session_name = "platformkit-bootstrap"
    }
  }

  # Absent unless endpoint_url is set: real AWS by default, a local emulator otherwise.
  dynamic "endpoints" {
    for_each = var.endpoint_url == null ? [] : [var.endpoint_url]

    content {
      url = endpoints.value
    }
  }

  default_tags {
    tags = merge(var.default_tags, {
      stack = "live-infrastructure/bootstrap/state-backend"
    })
  }
}
