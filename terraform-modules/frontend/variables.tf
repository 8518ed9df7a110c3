# Validation here mirrors the provider's own rules so a bad value is reported against the module input
# before any AWS call; the provider checks every attribute again.

variable "name" {
  description = "Name of the frontend: names the origin access control and, unless bucket_name is set, the bucket. Changing it replaces everything."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,61}[a-z0-9]$", var.name))
    error_message = "The name must be 3 to 63 lowercase letters, digits or hyphens, starting with a letter and not ending with a hyphen."
  }
}

variable "bucket_name" {
  description = "Name of the origin bucket (S3 rules, no dots). Null: `name`."
  type        = string
  default     = null

  validation {
    condition     = var.bucket_name == null ? true : can(regex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "The bucket_name must be 3 to 63 lowercase letters, digits or hyphens (no dots: CloudFront reaches the bucket over TLS)."
  }
}

variable "aliases" {
  description = "Domain names served, e.g. [\"www.your-app.com\"]. Each gets A and AAAA alias records; they need certificate_arn and a zone."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.aliases : can(regex("^(\\*\\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", a))])
    error_message = "Every alias must be a lowercase DNS name such as www.your-app.com."
  }
}

variable "certificate_arn" {
  description = "ACM certificate in us-east-1 covering the aliases. Null: the CloudFront default certificate (no aliases)."
  type        = string
  default     = null

  validation {
    condition     = var.certificate_arn == null ? true : can(regex("^arn:aws[a-z-]*:acm:us-east-1:[0-9]{12}:certificate/.+$", var.certificate_arn))
    error_message = "The certificate_arn must be an ACM certificate ARN in us-east-1 (CloudFront only uses certificates from there)."
  }
}

variable "zone_name" {
  description = "Create a public Route53 zone with this name for the alias records. Conflicts with hosted_zone_id."
  type        = string
  default     = null
}

variable "hosted_zone_id" {
  description = "Use this existing Route53 zone for the alias records. Conflicts with zone_name."
  type        = string
  default     = null

  validation {
    condition     = var.hosted_zone_id == null ? true : can(regex("^[A-Z0-9]{2,32}$", var.hosted_zone_id))
    error_message = "The hosted_zone_id must be a Route53 zone id such as Z0123456789ABCDEFGHIJ."
  }
}

variable "price_class" {
  description = "CloudFront price class: PriceClass_100, PriceClass_200 or PriceClass_All."
  type        = string
  default     = "PriceClass_100"

  validation {
    condition     = contains(["PriceClass_100", "PriceClass_200", "PriceClass_All"], var.price_class)
    error_message = "The price_class must be PriceClass_100, PriceClass_200 or PriceClass_All."
  }
}

variable "default_root_object" {
  description = "Object served for `/` (and, with spa_fallback, for 403/404)."
  type        = string
  default     = "index.html"
}

variable "spa_fallback" {
  description = "Answer 403 and 404 with /<default_root_object> and status 200 so client-side routes work."
  type        = bool
  default     = true
}

variable "require_tls" {
  description = "Add a bucket-policy statement denying any request without TLS."
  type        = bool
  default     = true
}

variable "force_destroy" {
  description = "Let destroy delete the site's files with the bucket. Default false: destroy refuses a non-empty bucket."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for the bucket and the distribution, merged over the provider's default_tags."
  type        = map(string)
  default     = {}
}
