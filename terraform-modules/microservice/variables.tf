# Validation here mirrors the provider's own rules so that a bad value is reported against the
# module input at `terraform validate`/`plan` time, before any AWS call. The provider checks every
# attribute again (image tags, ports, replica bounds, quantities...), with the attribute named.

variable "environment" {
  description = "The environment the services run on: `platform_environment.<name>` or an object with `cluster_name`, `oidc_issuer_url`, `oidc_provider_arn` and `node_role_arn` (extra attributes are ignored)."
  type = object({
    cluster_name      = string
    oidc_issuer_url   = string
    oidc_provider_arn = string
    node_role_arn     = string
  })

  validation {
    condition     = can(regex("^https://", var.environment.oidc_issuer_url))
    error_message = "The environment.oidc_issuer_url must be an https:// URL (the cluster's OIDC issuer)."
  }
}

variable "services" {
  description = <<-EOT
    Map of service name => settings. Every setting is optional (Terraform 1.0 has no optional()
    attributes, so the type is `any` and each one is looked up): image_tag, namespace, replicas,
    max_replicas, container_port, health_check_path, path_prefix, resources (map: cpu_request,
    cpu_limit, memory_request, memory_limit), env (map), iam_policy_arns (list), iam_policy_json
    (string), tags (map), and with `gateway` set: rate_limit_per_minute (number) and jwt (object with
    issuer, jwks_uri, audiences), this service's overrides of the gateway-wide rate limit and JWT.
    Example: { "mobile-service" = { path_prefix = "/mobile", rate_limit_per_minute = 120 } }.
  EOT
  type        = any

  validation {
    condition     = alltrue([for name in keys(var.services) : can(regex("^[a-z]([a-z0-9-]{0,51}[a-z0-9])?$", name))])
    error_message = "Every service name must be a lowercase RFC 1035 label of at most 53 characters (letters, digits, hyphens; starting with a letter)."
  }
}

variable "gateway" {
  description = "The platform API gateway the services' routes attach to: `module.<cluster-services>.gateway` (or `platform_cluster_services.<name>.gateway`). Each service with a `path_prefix` then gets an HTTPRoute on it instead of an Ingress. Null: Ingresses, as before."
  type = object({
    name      = string
    namespace = string
  })
  default = null
}

variable "image_tags" {
  description = "Service name => image tag (a git SHA or a semantic version) to deploy. This is what CI sets, e.g. `-var 'image_tags={\"mobile-service\"=\"<sha>\"}'`; it wins over an `image_tag` in `services`."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for t in values(var.image_tags) : lower(t) != "latest"])
    error_message = "An image tag must not be `latest`: repository tags are immutable; deploy a git SHA or a semantic version."
  }
}

variable "namespace" {
  description = "Kubernetes namespace of services that do not set their own."
  type        = string
  default     = "default"

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", var.namespace))
    error_message = "The namespace must be an RFC 1123 label (lowercase letters, digits, hyphens; at most 63 characters)."
  }
}

variable "pull_account_ids" {
  description = "Further AWS accounts allowed to pull every service's images (e.g. prod pulling images built once)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.pull_account_ids : can(regex("^[0-9]{12}$", a))])
    error_message = "Every pull_account_ids entry must be a 12-digit AWS account id."
  }
}

variable "lifecycle_keep_tagged" {
  description = "How many of the most recent images each repository keeps (1-1000). Null: the provider default, 30."
  type        = number
  default     = null

  validation {
    condition     = var.lifecycle_keep_tagged == null ? true : (var.lifecycle_keep_tagged >= 1 && var.lifecycle_keep_tagged <= 1000)
    error_message = "The lifecycle_keep_tagged must be from 1 to 1000."
  }
}

variable "lifecycle_expire_untagged_days" {
  description = "Days after which untagged images expire (1-3650). Null: the provider default, 7."
  type        = number
  default     = null

  validation {
    condition     = var.lifecycle_expire_untagged_days == null ? true : (var.lifecycle_expire_untagged_days >= 1 && var.lifecycle_expire_untagged_days <= 3650)
    error_message = "The lifecycle_expire_untagged_days must be from 1 to 3650."
  }
}

variable "kms_key_arn" {
  description = "KMS key encrypting every repository. Null: AES256."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null ? true : can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "The kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)."
  }
}

variable "force_delete" {
  description = "Let destroy delete repositories that still hold images. Default false: destroy refuses."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for every repository and role, merged over the provider's default_tags."
  type        = map(string)
  default     = {}
}

variable "deploy" {
  description = "Deploy every service into the cluster (one platform_helm_release each). False: only the AWS side (repository, role) and the values."
  type        = bool
  default     = true
}

variable "cluster" {
  description = "The EKS cluster the services are deployed into: `platform_environment.<name>` or an object with `cluster_name`, `cluster_endpoint` and `cluster_certificate_authority`. Null: the provider's `kubernetes` block names the cluster."
  type = object({
    cluster_name                  = string
    cluster_endpoint              = string
    cluster_certificate_authority = string
  })
  default = null
}

variable "chart" {
  description = "The chart each service is released with. Null: terraform-modules/charts/microservice from this repository."
  type        = string
  default     = null
}

variable "release_wait" {
  description = "Wait for each release's Deployment to be ready (a rolling update finished) before the apply goes on."
  type        = bool
  default     = true
}

variable "release_timeout" {
  description = "How long one release may take to install, upgrade (with release_wait) or uninstall, e.g. \"10m\"."
  type        = string
  default     = "10m"

  validation {
    condition     = can(regex("^([0-9]+[hms])+$", var.release_timeout))
    error_message = "The release_timeout must be a duration such as \"90s\", \"10m\" or \"1h30m\"."
  }
}

variable "release_max_history" {
  description = "Revisions Helm keeps per release (0: unlimited)."
  type        = number
  default     = 10
}
