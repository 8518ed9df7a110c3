module "environment" {
  source = "../../../terraform-modules/environment"

  name               = "project-a-prod"
  stage              = "prod"
  vpc_cidr           = var.vpc_cidr
  availability_zones = var.availability_zones
  tags               = var.tags
}
