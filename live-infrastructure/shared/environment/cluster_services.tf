# The cluster's core services (load balancer controller, Fluent Bit to CloudWatch, Prometheus and Grafana, the
# API gateway), installed before the services in services.tf (which depend on this module). Their charts come
# from chart_repository, your mirror of the upstream chart repositories; while it is null the stack installs
# none of them (nothing is fetched from public repositories on your behalf).
variable "chart_repository" {
  description = "URL of your mirror of the upstream chart repositories (aws-load-balancer-controller, aws-for-fluent-bit, kube-prometheus-stack, gateway-helm). Null: no cluster services."
  type        = string
  default     = null
}

variable "container_log_retention_in_days" {
  description = "Retention of the container log group /aws/eks/<cluster>/containers (a CloudWatch retention value)."
  type        = number
  default     = 90
}

variable "gateway_jwt" {
  description = "JWT authentication at the API gateway: { issuer, jwks_uri (https), audiences }. Null: none."
  type = object({
    issuer    = string
    jwks_uri  = string
    audiences = list(string)
  })
  default = null
}

variable "gateway_requests_per_minute" {
  description = "Rate limit on every route through the API gateway. Null: none."
  type        = number
  default     = null
}

module "cluster_services" {
  source = "../../../terraform-modules/cluster-services"
  count  = var.chart_repository == null ? 0 : 1

  cluster          = module.environment
  chart_repository = var.chart_repository
  wait             = var.release_wait
  tags             = var.tags

  observability = {
    enabled                  = true
    log_retention_in_days    = var.container_log_retention_in_days
    prometheus_retention     = "15d"
    grafana                  = true
    fluent_bit_version       = "0.1.34"
    prometheus_stack_version = "66.3.1"
  }
  jwt                 = var.gateway_jwt
  requests_per_minute = var.gateway_requests_per_minute
}
