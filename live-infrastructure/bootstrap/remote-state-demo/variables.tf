variable "region" {
  description = "AWS region for the demo bucket."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]+$", var.region))
    error_message = "The region must be an AWS region name such as us-east-1."
  }
}

variable "name_prefix" {
  description = "Prefix of the demo bucket name; the bucket is `<name_prefix>-demo-artifacts`."
  type        = string
  default     = "platformkit"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,40}$", var.name_prefix))
    error_message = "The name_prefix must be 2 to 41 lowercase letters, digits or hyphens, starting with a letter or digit."
  }
}

variable "endpoint_url" {
  description = "Base URL of a local AWS emulator (for example http://127.0.0.1:5000). Null means real AWS."
  type        = string
  default     = null

  validation {
    condition     = var.endpoint_url == null ? true : can(regex("^https?://[^/?#]+/?$", var.endpoint_url))
    error_message = "The endpoint_url must be an http:// or https:// base URL with no path, such as http://127.0.0.1:5000."
  }
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
