# Benchmark configuration (bench/environment.py): one platform_environment against moto on 127.0.0.1.
# Equivalent to ../aws/main.tf written with hashicorp/aws 3.39.0 fine-grained resources; see
# bench/results.md for what each side creates beyond the other.

terraform {
  required_version = ">= 1.0"
  required_providers {
    platform = {
      source  = "platformkit/platform"
      version = "0.1.0"
    }
  }
}

variable "endpoint" {
  description = "URL of the local AWS endpoint (moto), e.g. http://127.0.0.1:5000."
  type        = string

  validation {
    condition     = can(regex("^http://127\\.0\\.0\\.1:[0-9]+$", var.endpoint))
    error_message = "The endpoint must be a moto server on 127.0.0.1."
  }
}

# Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (test values set by the runner).
provider "platform" {
  region = "us-east-1"
  endpoints {
    url = var.endpoint
  }
}

resource "platform_environment" "bench" {
  name               = "bench-env"
  vpc_cidr           = "10.20.0.0/16"
  availability_zones = ["us-east-1a", "us-east-1b"]
  nat_gateways       = "per_az"

  flow_logs {
    retention_in_days = 30
  }

  cluster {
    version               = "1.31"
    log_retention_in_days = 30
  }

  node_groups {
    name           = "general"
    instance_types = ["t3.medium"]
    min_size       = 1
    max_size       = 3
    desired_size   = 2
    disk_size      = 20
  }

  database {
    engine                  = "postgres"
    engine_version          = "16"
    instance_class          = "db.t4g.micro"
    allocated_storage       = 20
    backup_retention_period = 7
    deletion_protection     = false
    skip_final_snapshot     = true
  }
}
