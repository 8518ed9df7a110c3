resource "platform_environment" "prod" {
  name               = "project-a-prod"
  vpc_cidr           = "10.12.0.0/16"
  availability_zones = ["us-east-1a", "us-east-1b"]

  cluster {
    version = "1.32"
  }
}

resource "platform_cluster_services" "prod" {
  cluster          = platform_environment.prod
  chart_repository = "https://charts.internal.example/upstream" # your mirror of the upstream charts

  observability {
    log_retention_in_days = 30
  }

  api_gateway {
    jwt {
      issuer    = "https://login.example.com/"
      jwks_uri  = "https://login.example.com/.well-known/jwks.json"
      audiences = ["api"]
    }
    rate_limit {
      requests_per_minute = 600
    }
  }
}
