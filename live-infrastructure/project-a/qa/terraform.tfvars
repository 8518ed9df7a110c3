project = "project-a"
stage   = "qa"

vpc_cidr           = "10.11.0.0/16"
availability_zones = ["us-east-1a", "us-east-1b"]
tags = {
  cost-center = "project-a"
}

frontend_zone_name = "qa.project-a.example.com"
