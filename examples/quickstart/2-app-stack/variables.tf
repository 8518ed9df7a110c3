variable "region" {
  description = "AWS region for the app bucket."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]+$", var.region))
    error_message = "The region must be an AWS region name such as us-east-1."
  }
}

variable "app_bucket_name" {
  description = "Name of the app's bucket (its lock table is `<app_bucket_name>-lock`)."
  type        = string
  default     = "platformkit-quickstart-app-artifacts"
}

variable "endpoint_url" {
  description = "Base URL of a local AWS emulator, such as http://127.0.0.1:5000. Null means real AWS."
  type        = string
  default     = null

  validation {
    condition     = var.endpoint_url == null ? true : can(regex("^https?://[^/?#]+/?$", var.endpoint_url))
    error_message = "The endpoint_url must be an http:// or https:// base URL with no path, such as http://127.0.0.1:5000."
  }
}
