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
  description = "Name of the state bucket; the lock table is `<bucket_name>-lock`."
  type        = string
  default     = "platformkit-quickstart-state"
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

variable "require_tls" {
  description = "TLS-only bucket policy. Null means on, unless endpoint_url is a plain http:// emulator."
  type        = bool
  default     = null
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete the bucket although step 2's state object is still in it. True here so the quickstart cleans up completely."
  type        = bool
  default     = true
}
