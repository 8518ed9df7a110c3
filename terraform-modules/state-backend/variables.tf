# Validation here mirrors the provider's own rules so that a bad value is reported against the
# module input, at `terraform validate`/`plan` time, before any AWS call. The provider checks
# again, so a caller using the resource directly gets the same protection.
#
# Terraform 1.0 has no `nullable = false`: an input explicitly set to null behaves as if it were
# unset for the provider (the provider default applies), and every validation below accepts null.

variable "bucket_name" {
  description = "Name of the S3 bucket that holds the state files. Globally unique; it also names the lock table unless `lock_table_name` is set. Changing it replaces the backend."
  type        = string

  validation {
    condition     = can(regex("^.{3,63}$", var.bucket_name))
    error_message = "The bucket_name must be between 3 and 63 characters long."
  }

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]*[a-z0-9]$", var.bucket_name))
    error_message = "The bucket_name may contain only lowercase letters, digits, dots and hyphens, and must start and end with a letter or a digit."
  }

  validation {
    # Four dot-separated numbers from 0 to 255 (leading zeros allowed), as the provider checks.
    condition     = !can(regex("^(0*([0-9]{1,2}|1[0-9]{2}|2[0-4][0-9]|25[0-5])[.]){3}0*([0-9]{1,2}|1[0-9]{2}|2[0-4][0-9]|25[0-5])$", var.bucket_name))
    error_message = "The bucket_name must not be formatted as an IP address (for example 192.168.5.4)."
  }

  validation {
    condition     = !can(regex("[.][.]|[.]-|-[.]", var.bucket_name))
    error_message = "The bucket_name must not contain two adjacent dots, or a dot next to a hyphen."
  }

  validation {
    condition     = !can(regex("^(xn--|sthree-|amzn-s3-demo-)|(-s3alias|--ol-s3|[.]mrap|--x-s3|--table-s3)$", var.bucket_name))
    error_message = "The bucket_name must not use a prefix (xn--, sthree-, amzn-s3-demo-) or suffix (-s3alias, --ol-s3, .mrap, --x-s3, --table-s3) that S3 reserves."
  }
}

variable "lock_table_name" {
  description = "Name of the DynamoDB table used for state locking. Null lets the provider name it `<bucket_name>-lock`. Changing it replaces the table."
  type        = string
  default     = null

  validation {
    condition     = var.lock_table_name == null ? true : can(regex("^[A-Za-z0-9_.-]{3,255}$", var.lock_table_name))
    error_message = "The lock_table_name must be 3 to 255 characters long and contain only letters, digits, underscores, dots and hyphens."
  }
}

variable "kms_key_arn" {
  description = "ARN of a customer-managed KMS key for SSE-KMS encryption of the bucket. Null means SSE-S3 (AES256). Can be changed in place."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null ? true : can(regex("^arn:aws[^:]*:kms:[^:]+:[0-9]{12}:(key|alias)/.+$", var.kms_key_arn))
    error_message = "The kms_key_arn must be a KMS key or alias ARN, such as arn:aws:kms:us-east-1:111111111111:key/<key-id>."
  }
}

variable "require_tls" {
  description = "Attach a bucket policy that denies every request not made over TLS. Keep it on for real AWS; a plain-HTTP local emulator needs it off (see README)."
  type        = bool
  default     = true
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which a non-current (overwritten) state version is deleted. Between 1 and 3650."
  type        = number
  default     = 90

  validation {
    # tonumber(): Terraform 1.0 validates a -var value before converting it to the declared
    # type, so the value can still be the string "90" here, and floor("90") != "90".
    condition     = var.noncurrent_version_expiration_days == null ? true : (floor(tonumber(var.noncurrent_version_expiration_days)) == tonumber(var.noncurrent_version_expiration_days) && tonumber(var.noncurrent_version_expiration_days) >= 1 && tonumber(var.noncurrent_version_expiration_days) <= 3650)
    error_message = "The noncurrent_version_expiration_days must be a whole number between 1 and 3650."
  }
}

variable "force_destroy" {
  description = "Allow `terraform destroy` to empty and delete a bucket that still holds objects. Leave false for a real backend: destroying it deletes every stack's state."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for the bucket and the lock table, merged over the provider's `default_tags`. The provider adds `platform:managed-by` and `platform:owner` itself."
  type        = map(string)
  default     = {}

  validation {
    condition     = var.tags == null ? true : length(var.tags) <= 40
    error_message = "At most 40 tags: S3 allows 50 per bucket and the provider adds its own."
  }

  validation {
    condition     = var.tags == null ? true : alltrue([for k, v in var.tags : length(k) >= 1 && length(k) <= 128 && length(v) <= 256])
    error_message = "Tag keys must be 1 to 128 characters long and tag values at most 256 characters."
  }

  validation {
    condition     = var.tags == null ? true : alltrue([for k in keys(var.tags) : !can(regex("^(aws|platform):", k))])
    error_message = "Tag keys must not start with \"aws:\" (reserved by AWS) or \"platform:\" (set by the provider)."
  }
}

variable "state_key_example" {
  description = "State object key shown in the rendered `backend_hcl` output. It only changes that text; each stack chooses its own key."
  type        = string
  default     = "path/to/stack/terraform.tfstate"

  validation {
    condition     = can(regex("^[^/].*[^/]$", var.state_key_example))
    error_message = "The state_key_example must be a non-empty object key that neither starts nor ends with a slash."
  }
}
