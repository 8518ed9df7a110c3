project = "project-b"
stage   = "dev"

vpc_cidr           = "10.20.0.0/16"
availability_zones = ["us-east-1a", "us-east-1b"]
tags = {
  cost-center = "project-b"
}

frontend_zone_name = "dev.project-b.example.com"
