project = "project-a"
stage   = "dev"

vpc_cidr           = "10.10.0.0/16"
availability_zones = ["us-east-1a", "us-east-1b"]
tags = {
  cost-center = "project-a"
}

frontend_zone_name = "dev.project-a.example.com"
