# The cluster's core services in one resource: the load balancer controller, observability and the API gateway.
resource "platform_cluster_services" "this" {
  cluster          = var.cluster
  chart_repository = var.chart_repository
  wait             = var.wait
  tags             = var.tags

  load_balancer_controller {
    enabled  = var.load_balancer_controller.enabled
    version  = var.load_balancer_controller.version
    replicas = var.load_balancer_controller.replicas
  }

  observability {
    enabled                  = var.observability.enabled
    log_retention_in_days    = var.observability.log_retention_in_days
    prometheus_retention     = var.observability.prometheus_retention
    grafana                  = var.observability.grafana
    fluent_bit_version       = var.observability.fluent_bit_version
    prometheus_stack_version = var.observability.prometheus_stack_version
  }

  api_gateway {
    version = var.gateway_version

    dynamic "jwt" {
      for_each = var.jwt == null ? [] : [var.jwt]
      content {
        issuer    = jwt.value.issuer
        jwks_uri  = jwt.value.jwks_uri
        audiences = jwt.value.audiences
      }
    }

    dynamic "rate_limit" {
      for_each = var.requests_per_minute == null ? [] : [var.requests_per_minute]
      content {
        requests_per_minute = rate_limit.value
      }
    }
  }

  timeouts {
    delete = var.delete_timeout
  }
}
