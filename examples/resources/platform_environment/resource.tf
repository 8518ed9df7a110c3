resource "platform_environment" "prod" {
  name               = "project-a-prod"
  vpc_cidr           = "10.12.0.0/16"
  availability_zones = ["us-east-1a", "us-east-1b", "us-east-1c"]
  nat_gateways       = "per_az"

  flow_logs {
    retention_in_days = 365
  }

  cluster {
    version = "1.32"
  }

  node_groups {
    name           = "general"
    instance_types = ["m6i.large"]
    min_size       = 3
    max_size       = 10
  }

  database {
    engine              = "postgres"
    multi_az            = true
    deletion_protection = true
  }
}
