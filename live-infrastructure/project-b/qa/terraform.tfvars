project = "project-b"
stage   = "qa"

vpc_cidr           = "10.21.0.0/16"
availability_zones = ["us-east-1a", "us-east-1b"]
tags = {
  cost-center = "project-b"
}

frontend_zone_name = "qa.project-b.example.com"
