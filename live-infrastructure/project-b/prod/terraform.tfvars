project = "project-b"
stage   = "prod"

vpc_cidr           = "10.22.0.0/16"
availability_zones = ["us-east-1a", "us-east-1b", "us-east-1c"]
tags = {
  cost-center = "project-b"
}

frontend_zone_name = "prod.project-b.example.com"
