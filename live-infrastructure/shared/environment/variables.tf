variable "project" {
  description = "Project key, e.g. `project-a`: names the environment (`<project>-<stage>`), its frontend and the stack tag."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,20}[a-z0-9]$", var.project))
    error_message = "The project must be 2-22 lower-case letters, digits and hyphens, starting with a letter."
  }
}

variable "stage" {
  description = "Stage of the environment: `dev`, `qa` or `prod` (selects the environment module's preset)."
  type        = string

  validation {
    condition     = contains(["dev", "qa", "prod"], var.stage)
    error_message = "The stage must be one of dev, qa or prod."
  }
}

variable "region" {
  description = "AWS region of the environment."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]+$", var.region))
    error_message = "The region must be an AWS region name such as us-east-1."
  }
}

variable "vpc_cidr" {
  description = "The environment's VPC CIDR; distinct per environment so VPCs can be peered later."
  type        = string
}

variable "availability_zones" {
  description = "Availability zones of the environment (2 to 6)."
  type        = list(string)
}

variable "tags" {
  description = "Extra tags for every object of the environment."
  type        = map(string)
  default     = {}
}

variable "assume_role_arn" {
  description = "Role to assume in the environment's account (from the Organizations stacks). Null: the caller's own identity."
  type        = string
  default     = null
}

variable "endpoint_url" {
  description = "Base URL of a local AWS emulator (for example http://127.0.0.1:5000). Null means real AWS."
  type        = string
  default     = null
}

variable "allowed_account_ids" {
  description = "Account ids the provider may act in. Null disables the guard."
  type        = list(string)
  default     = null

  validation {
    condition     = var.allowed_account_ids == null ? true : alltrue([for id in var.allowed_account_ids : can(regex("^[0-9]{12}$", id))])
    error_message = "Every allowed account id must be 12 digits."
  }
}

variable "image_tags" {
  description = "Service name => image tag deployed. Written by the service pipeline into image_tags.auto.tfvars.json."
  type        = map(string)
}

variable "deploy_services" {
  description = "Deploy the services into the cluster (Helm releases). False: only their ECR repositories, roles and values."
  type        = bool
  default     = true
}

variable "release_wait" {
  description = "Wait for each service's rollout to finish before the apply goes on."
  type        = bool
  default     = true
}

variable "force_delete_images" {
  description = "Destroy deletes ECR repositories that still hold images (throwaway environments only)."
  type        = bool
  default     = false
}

variable "kubernetes_host" {
  description = "A fixed Kubernetes API server (https://host:port) instead of the environment's EKS cluster, for local clusters. Null: the EKS cluster, with a token the provider signs."
  type        = string
  default     = null
}

variable "kubernetes_token" {
  description = "Bearer token for kubernetes_host."
  type        = string
  default     = null
  sensitive   = true
}

variable "kubernetes_ca_certificate" {
  description = "CA certificate (PEM) of kubernetes_host."
  type        = string
  default     = null
}

variable "helm_binary" {
  description = "Path of the helm v3 binary. Null: the first helm on PATH."
  type        = string
  default     = null
}

variable "frontend_zone_name" {
  description = "DNS zone of this environment's frontend, e.g. `dev.project-a.example.com`; the stack creates the Route53 zone."
  type        = string
}

variable "frontend_certificate_arn" {
  description = "ACM certificate (us-east-1, in this account) covering www.<frontend_zone_name>. Null: the site answers only on its CloudFront domain."
  type        = string
  default     = null
}

variable "frontend_price_class" {
  description = "CloudFront price class of the frontend: PriceClass_100, PriceClass_200 or PriceClass_All."
  type        = string
  default     = "PriceClass_100"
}

variable "force_destroy_frontend" {
  description = "Destroy empties and deletes the frontend bucket even when it still holds the site (throwaway environments only)."
  type        = bool
  default     = false
}
