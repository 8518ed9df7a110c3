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
  environment = platform_environment.prod
  image_tag   = "1.4.2"
  namespace   = "apps"
}

resource "platform_helm_release" "mobile" {
  name             = "mobile-service"
  namespace        = "apps"
  create_namespace = true
  chart            = "../../terraform-modules/charts/microservice" # or repository + chart + version, or oci://
  values           = platform_microservice.mobile.helm_values      # JSON or YAML
  cluster          = platform_environment.prod                     # the provider signs an EKS token
}
