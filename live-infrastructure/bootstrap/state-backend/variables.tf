variable "region" {
  description = "AWS region of the state bucket and lock table."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]+$", var.region))
    error_message = "The region must be an AWS region name such as us-east-1."
  }
}

variable "bucket_name" {
  description = "Name of the state bucket (globally unique). The lock table is named `<bucket_name>-lock` unless `lock_table_name` is set."
  type        = string
}

variable "lock_table_name" {
  description = "Name of the DynamoDB lock table. Null means `<bucket_name>-lock`."
  type        = string
  default     = null
}

variable "endpoint_url" {
  description = "Base URL of a local AWS emulator (for example http://127.0.0.1:5000) used for every service. Null means real AWS."
  type        = string
  default     = null

  validation {
    condition     = var.endpoint_url == null ? true : can(regex("^https?://[^/?#]+/?$", var.endpoint_url))
    error_message = "The endpoint_url must be an http:// or https:// base URL with no path, such as http://127.0.0.1:5000."
  }
}

variable "allowed_account_ids" {
  description = "Account ids the provider may act in; it refuses to run against any other account. Null disables the guard (not recommended outside an emulator)."
  type        = list(string)
  default     = null

  validation {
    condition     = var.allowed_account_ids == null ? true : alltrue([for id in var.allowed_account_ids : can(regex("^[0-9]{12}$", id))])
    error_message = "Every allowed account id must be 12 digits."
  }
}

variable "assume_role_arn" {
  description = "ARN of a role to assume, to bootstrap the backend of another account (for example its OrganizationAccountAccessRole). Null uses the caller's own identity."
  type        = string
  default     = null

  validation {
    condition     = var.assume_role_arn == null ? true : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", var.assume_role_arn))
    error_message = "The assume_role_arn must be an IAM role ARN such as arn:aws:iam::111111111111:role/OrganizationAccountAccessRole."
  }
}

variable "kms_key_arn" {
  description = "KMS key ARN for SSE-KMS encryption of the bucket. Null means SSE-S3 (AES256)."
  type        = string
  default     = null
}

variable "require_tls" {
  description = "Attach the TLS-only bucket policy. Null means true, except when endpoint_url is a plain http:// emulator endpoint (which cannot serve a TLS-only bucket)."
  type        = bool
  default     = null
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which non-current state versions are deleted (1 to 3650)."
  type        = number
  default     = 90
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete the bucket while it still holds state. Keep false: destroying the backend deletes every stack's state."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Extra tags for the bucket and the lock table."
  type        = map(string)
  default     = {}
}

variable "default_tags" {
  description = "Tags the provider puts on every object it creates in this stack (a `stack` tag is always added)."
  type        = map(string)
  default     = {}

  validation {
    condition     = var.default_tags == null ? true : alltrue([for k in keys(var.default_tags) : !can(regex("^(aws|platform):", k))])
    error_message = "Tag keys must not start with \"aws:\" (reserved by AWS) or \"platform:\" (set by the provider)."
  }
}
