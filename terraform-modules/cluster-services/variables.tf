variable "cluster" {
  description = "The EKS cluster: `platform_environment.<name>` (or the environment module) or an object with `cluster_name`, `cluster_endpoint`, `cluster_certificate_authority`, `oidc_issuer_url`, `oidc_provider_arn` and `vpc_id` (extra attributes are ignored)."
  type = object({
    cluster_name                  = string
    cluster_endpoint              = string
    cluster_certificate_authority = string
    oidc_issuer_url               = string
    oidc_provider_arn             = string
    vpc_id                        = string
  })
}

variable "chart_repository" {
  description = "URL of your mirror of the upstream chart repositories (aws-load-balancer-controller, aws-for-fluent-bit, kube-prometheus-stack, gateway-helm). No default: nothing is fetched from public repositories on your behalf."
  type        = string

  validation {
    condition     = can(regex("^https?://[^/]+", var.chart_repository))
    error_message = "The chart_repository must be an http(s) URL of a Helm chart repository."
  }
}

variable "load_balancer_controller" {
  description = "The AWS Load Balancer Controller: `enabled`, chart `version`, `replicas`."
  type = object({
    enabled  = bool
    version  = string
    replicas = number
  })
  default = {
    enabled  = true
    version  = "1.11.0"
    replicas = 2
  }
}

variable "observability" {
  description = "Fluent Bit to CloudWatch and kube-prometheus-stack: `enabled`, `log_retention_in_days` (a CloudWatch retention value), `prometheus_retention` (e.g. 15d), `grafana`, and the two chart versions."
  type = object({
    enabled                  = bool
    log_retention_in_days    = number
    prometheus_retention     = string
    grafana                  = bool
    fluent_bit_version       = string
    prometheus_stack_version = string
  })
  default = {
    enabled                  = true
    log_retention_in_days    = 30
    prometheus_retention     = "15d"
    grafana                  = true
    fluent_bit_version       = "0.1.34"
    prometheus_stack_version = "66.3.1"
  }

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.observability.log_retention_in_days)
    error_message = "The observability.log_retention_in_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }
}

variable "gateway_version" {
  description = "Version of Envoy Gateway's gateway-helm chart."
  type        = string
  default     = "v1.2.1"
}

variable "jwt" {
  description = "JWT authentication on every request through the gateway: `issuer`, `jwks_uri` (https) and `audiences`. Null: no authentication at the gateway."
  type = object({
    issuer    = string
    jwks_uri  = string
    audiences = list(string)
  })
  default = null

  validation {
    condition     = var.jwt == null ? true : can(regex("^https://[^/]+", var.jwt.jwks_uri))
    error_message = "The jwt.jwks_uri must be an https:// URL."
  }
}

variable "requests_per_minute" {
  description = "Rate limit applied to every route through the gateway. Null: no rate limit."
  type        = number
  default     = null

  validation {
    condition     = var.requests_per_minute == null ? true : var.requests_per_minute > 0
    error_message = "The requests_per_minute must be greater than 0."
  }
}

variable "wait" {
  description = "Wait for each release's workloads to be ready before the next."
  type        = bool
  default     = true
}

variable "delete_timeout" {
  description = "How long destroy may wait for the load balancers of Ingresses and LoadBalancer Services to go."
  type        = string
  default     = "20m"
}

variable "tags" {
  description = "Extra tags for the AWS objects (IAM roles, log group, secret)."
  type        = map(string)
  default     = {}
}
