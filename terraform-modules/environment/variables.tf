# Validation mirrors the provider's own rules so that a bad value is reported against the module
# input at `terraform validate`/`plan` time, before any AWS call. The provider checks again.

variable "name" {
  description = "Environment name, e.g. `project-a-prod`: 1-32 lower-case letters, digits and hyphens, starting with a letter. It names every object and is the import id."
  type        = string

  validation {
    condition     = can(regex("^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$", var.name)) && !can(regex("--", var.name))
    error_message = "The name must be 1-32 lower-case letters, digits and single hyphens, start with a letter and not end with a hyphen."
  }
}

variable "stage" {
  description = "Stage preset: `dev` and `qa` (one NAT gateway, short flow-log retention) or `prod` (a NAT gateway per AZ, one year of flow logs)."
  type        = string

  validation {
    condition     = contains(["dev", "qa", "prod"], var.stage)
    error_message = "The stage must be one of dev, qa or prod."
  }
}

variable "vpc_cidr" {
  description = "The VPC's IPv4 CIDR, /16 to /28. Changing it replaces the environment."
  type        = string

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && can(regex("^[0-9.]+/(1[6-9]|2[0-8])$", var.vpc_cidr))
    error_message = "The vpc_cidr must be an IPv4 CIDR block with a prefix from /16 to /28."
  }
}

variable "availability_zones" {
  description = "2 to 6 distinct availability zones of the provider's region. Subnets are keyed by AZ: adding or removing one never touches the others."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) >= 2 && length(var.availability_zones) <= 6 && length(distinct(var.availability_zones)) == length(var.availability_zones)
    error_message = "Give 2 to 6 distinct availability zones."
  }
}

variable "nat_gateways" {
  description = "Override the stage's NAT layout: `single` or `per_az`. Null uses the preset."
  type        = string
  default     = null

  validation {
    condition     = var.nat_gateways == null ? true : contains(["single", "per_az"], var.nat_gateways)
    error_message = "The nat_gateways must be \"single\" or \"per_az\"."
  }
}

variable "subnet_newbits" {
  description = "Bits added to the VPC prefix for each subnet (4 to 12). 4 gives /20 subnets in a /16 VPC."
  type        = number
  default     = 4

  validation {
    condition     = var.subnet_newbits >= 4 && var.subnet_newbits <= 12 && floor(var.subnet_newbits) == var.subnet_newbits
    error_message = "The subnet_newbits must be a whole number from 4 to 12."
  }
}

variable "flow_log_retention_in_days" {
  description = "Override the stage's flow-log retention. Must be a value CloudWatch Logs allows. Null uses the preset (dev 30, qa 90, prod 365)."
  type        = number
  default     = null

  validation {
    condition     = var.flow_log_retention_in_days == null ? true : contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.flow_log_retention_in_days)
    error_message = "The flow_log_retention_in_days must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "flow_log_kms_key_arn" {
  description = "KMS key ARN to encrypt the flow-log log group with. Null: CloudWatch Logs' own encryption."
  type        = string
  default     = null

  validation {
    condition     = var.flow_log_kms_key_arn == null ? true : can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key|alias)/.+$", var.flow_log_kms_key_arn))
    error_message = "The flow_log_kms_key_arn must be a KMS key or alias ARN."
  }
}

variable "flow_log_max_aggregation_interval" {
  description = "Flow-log aggregation interval in seconds: 60 or 600."
  type        = number
  default     = 600

  validation {
    condition     = contains([60, 600], var.flow_log_max_aggregation_interval)
    error_message = "The flow_log_max_aggregation_interval must be 60 or 600."
  }
}

variable "enable_cluster" {
  description = "Create the EKS cluster (all five control-plane log types, KMS-encrypted secrets, private endpoint, IRSA) with the stage's node groups."
  type        = bool
  default     = true
}

variable "cluster_version" {
  description = "Kubernetes version of the EKS cluster."
  type        = string
  default     = "1.32"

  validation {
    condition     = contains(["1.29", "1.30", "1.31", "1.32", "1.33", "1.34"], var.cluster_version)
    error_message = "The cluster_version must be a Kubernetes version EKS supports: 1.29 to 1.34."
  }
}

variable "cluster_public_access_cidrs" {
  description = "CIDRs allowed to reach a public API endpoint. Empty (default): the endpoint is private only."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.cluster_public_access_cidrs : can(cidrhost(c, 0)) && c != "0.0.0.0/0"])
    error_message = "Each public access CIDR must be a valid CIDR block, and 0.0.0.0/0 is not allowed."
  }
}

variable "cluster_secrets_kms_key_arn" {
  description = "KMS key for Kubernetes secrets encryption. Null: the provider creates one (with rotation)."
  type        = string
  default     = null
}

variable "node_groups" {
  description = "Override the stage's node groups. A map by name of objects with every field set (Terraform 1.0 has no optional object attributes): instance_types, capacity_type (ON_DEMAND or SPOT), min_size, max_size, desired_size, disk_size, labels."
  type = map(object({
    instance_types = list(string)
    capacity_type  = string
    min_size       = number
    max_size       = number
    desired_size   = number
    disk_size      = number
    labels         = map(string)
  }))
  default = null

  validation {
    condition     = var.node_groups == null ? true : alltrue([for g in values(var.node_groups) : g.min_size <= g.desired_size && g.desired_size <= g.max_size])
    error_message = "Each node group needs min_size <= desired_size <= max_size."
  }
}

variable "enable_database" {
  description = "Create the RDS instance (needs the cluster: it accepts connections only from the node security group)."
  type        = bool
  default     = true
}

variable "database_engine" {
  description = "Database engine: postgres or mysql."
  type        = string
  default     = "postgres"

  validation {
    condition     = contains(["postgres", "mysql"], var.database_engine)
    error_message = "The database_engine must be postgres or mysql."
  }
}

variable "database_engine_version" {
  description = "Engine version, pinned to a major by default (postgres 16, mysql 8.0). Null: the provider's default."
  type        = string
  default     = null
}

variable "database_instance_class" {
  description = "Override the stage's DB instance class (dev db.t4g.micro, qa db.t4g.small, prod db.r6g.large)."
  type        = string
  default     = null

  validation {
    condition     = var.database_instance_class == null ? true : can(regex("^db[.]", var.database_instance_class))
    error_message = "The database_instance_class must be a DB instance class such as db.t4g.micro."
  }
}

variable "timeouts" {
  description = "How long apply may wait for AWS, per operation (Go-style durations such as \"30m\" or \"1h\")."
  type = object({
    create = string
    update = string
    delete = string
  })
  default = {
    create = "60m"
    update = "60m"
    delete = "60m"
  }

  validation {
    condition     = alltrue([for t in values(var.timeouts) : can(regex("^([0-9]+[hms])+$", t))])
    error_message = "Each timeout must be a duration such as \"90s\", \"30m\" or \"1h30m\"."
  }
}

variable "tags" {
  description = "Tags for every object of the environment, merged over the provider's default_tags. Keys starting with `platform:` or `aws:` are reserved."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.tags) : !can(regex("^(platform|aws):", k))])
    error_message = "Tag keys starting with \"platform:\" or \"aws:\" are reserved."
  }
}
