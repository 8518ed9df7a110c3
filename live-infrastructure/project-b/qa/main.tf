module "environment" {
  source = "../../../terraform-modules/environment"

  name               = "${var.project}-${var.stage}"
  stage              = var.stage
  vpc_cidr           = var.vpc_cidr
  availability_zones = var.availability_zones
  tags               = var.tags
}
