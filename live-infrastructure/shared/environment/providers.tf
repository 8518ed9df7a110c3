# The provider of every environment stack (project-*/<env>), linked into each of them: what differs per
# stack (project, stage, account) comes from its terraform.tfvars and the caller's -var arguments.
provider "platform" {
  region              = var.region
  allowed_account_ids = var.allowed_account_ids

  # The environment lives in its own AWS account: assume_role_arn is that account's
  # OrganizationAccountAccessRole (management stack output account_role_arns["<project>-<stage>"]),
  # pinned with allowed_account_ids (output account_ids). Null: run as the caller.
  dynamic "assume_role" {
    for_each = var.assume_role_arn == null ? [] : [var.assume_role_arn]

    content {
      role_arn     = assume_role.value
      session_name = "platformkit-${var.project}-${var.stage}"
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
      project = var.project
      stage   = var.stage
      stack   = "live-infrastructure/${var.project}/${var.stage}"
    }
  }
}
