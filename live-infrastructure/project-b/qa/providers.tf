provider "platform" {
  region              = var.region
  allowed_account_ids = var.allowed_account_ids

  # The environment lives in its own AWS account. Once the Organizations stacks
  # (management/) exist, set assume_role_arn to that account's OrganizationAccountAccessRole
  # (e.g. arn:aws:iam::111111111111:role/OrganizationAccountAccessRole). Null: run as the caller.
  dynamic "assume_role" {
    for_each = var.assume_role_arn == null ? [] : [var.assume_role_arn]

    content {
      role_arn     = assume_role.value
      session_name = "platformkit-project-b-qa"
    }
  }

  # Absent unless endpoint_url is set: real AWS by default, a local emulator otherwise.
  dynamic "endpoints" {
    for_each = var.endpoint_url == null ? [] : [var.endpoint_url]

    content {
      url = endpoints.value
    }
  }

  # Releases reach the environment's EKS cluster with a token the provider signs; a local
  # cluster (the quickstart, tests) comes in through the kubernetes_* variables instead.
  helm_binary = var.helm_binary

  dynamic "kubernetes" {
    for_each = var.kubernetes_host == null ? [] : [var.kubernetes_host]

    content {
      host                   = kubernetes.value
      token                  = var.kubernetes_token
      cluster_ca_certificate = var.kubernetes_ca_certificate
    }
  }

  default_tags {
    tags = {
      project = "project-b"
      stage   = "qa"
      stack   = "live-infrastructure/project-b/qa"
    }
  }
}
