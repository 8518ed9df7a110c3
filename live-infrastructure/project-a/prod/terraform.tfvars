project = "project-a"
stage   = "prod"

vpc_cidr           = "10.12.0.0/16"
availability_zones = ["us-east-1a", "us-east-1b", "us-east-1c"]
tags = {
  cost-center = "project-a"
}

frontend_zone_name = "prod.project-a.example.com"
