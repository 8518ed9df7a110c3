variable "mobile_service_image_tag" {
  description = "Set by the service's pipeline: a git SHA or a semantic version."
  type        = string
}

resource "platform_environment" "prod" {
  name               = "project-a-prod"
  vpc_cidr           = "10.12.0.0/16"
  availability_zones = ["us-east-1a", "us-east-1b"]

  cluster {
    version = "1.32"
  }
}

resource "platform_microservice" "mobile" {
  name        = "mobile-service"
  environment = platform_environment.prod    # or { cluster_name, oidc_issuer_url, oidc_provider_arn, node_role_arn }
  image_tag   = var.mobile_service_image_tag # `latest` is refused
  namespace   = "apps"
  path_prefix = "/mobile"
}

# The values for the chart terraform-modules/charts/microservice (see platform_helm_release).
output "mobile_helm_values" {
  value = platform_microservice.mobile.helm_values
}
