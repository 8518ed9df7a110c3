variable "region" {
  description = "AWS region the provider uses (Organizations itself is global)."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]+$", var.region))
    error_message = "The region must be an AWS region name such as us-east-1."
  }
}

variable "allowed_account_ids" {
  description = "The management account id: the provider refuses to run anywhere else. Null disables the guard (only for an emulator)."
  type        = list(string)
  default     = null

  validation {
    condition     = var.allowed_account_ids == null ? true : alltrue([for id in var.allowed_account_ids : can(regex("^[0-9]{12}$", id))])
    error_message = "Every allowed account id must be 12 digits."
  }
}

variable "endpoint_url" {
  description = "Base URL of a local AWS emulator (e.g. http://127.0.0.1:5000). Null means real AWS."
  type        = string
  default     = null

  validation {
    condition     = var.endpoint_url == null ? true : can(regex("^https?://[^/?#]+/?$", var.endpoint_url))
    error_message = "The endpoint_url must be an http:// or https:// base URL with no path."
  }
}

variable "email_local_part" {
  description = "Local part of the account root emails; each account gets `<local>+<account-key>@<domain>` (plus addressing, one mailbox)."
  type        = string
  default     = "aws"

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]+$", var.email_local_part))
    error_message = "The local part may contain letters, digits, dots, underscores and hyphens."
  }
}

variable "email_domain" {
  description = "Domain of the account root emails."
  type        = string
  default     = "example.com"

  validation {
    condition     = can(regex("^([a-z0-9-]+\\.)+[a-z]{2,}$", var.email_domain))
    error_message = "The email domain must be a domain name such as example.com."
  }
}

variable "allowed_regions" {
  description = "Regions the member accounts may use (global services are always allowed)."
  type        = list(string)
  default     = ["us-east-1", "eu-central-1"]

  validation {
    condition     = alltrue([for r in var.allowed_regions : can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$", r))])
    error_message = "Every allowed region must be an AWS region name such as eu-central-1."
  }
}

variable "exempt_principal_arns" {
  description = "Principals (e.g. a break-glass role) exempt from the flow-log, CloudTrail and region guardrails."
  type        = list(string)
  default     = ["arn:aws:iam::*:role/breakglass"]
}

variable "default_tags" {
  description = "Tags the provider puts on everything it creates in this stack (a `stack` tag is always added)."
  type        = map(string)
  default     = {}
}

variable "trail_bucket_name" {
  description = "S3 bucket for the organization trail's log files (globally unique). Null: `<email_domain with dots as hyphens>-organization-trail`."
  type        = string
  default     = null
}

variable "trail_log_retention_days" {
  description = "Retention of the organization trail's CloudWatch log group, in days."
  type        = number
  default     = 365
}
