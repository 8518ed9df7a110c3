variable "projects" {
  description = "One organizational unit per project, keyed by a stable project key (e.g. `project-a`). `ou_name` names the OU; `allowed_regions` restricts regional services in the project's accounts (an empty list means no region restriction); `extra_policies` are additional SCP documents (name => JSON) attached to the OU."
  type = map(object({
    ou_name         = string
    allowed_regions = list(string)
    extra_policies  = map(string)
  }))

  validation {
    condition     = length(var.projects) > 0
    error_message = "Declare at least one project."
  }

  validation {
    condition = alltrue(flatten([
      for p in values(var.projects) : [for r in p.allowed_regions : can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$", r))]
    ]))
    error_message = "Every allowed region must be an AWS region name such as eu-central-1."
  }

  validation {
    condition     = length(distinct([for p in values(var.projects) : p.ou_name])) == length(var.projects)
    error_message = "Two projects use the same ou_name."
  }
}

variable "accounts" {
  description = "One member account per environment, keyed by a stable key (e.g. `project-a-dev`). `project` is a key of `projects` (the account is placed in that project's OU; null places it at the organization's root); `name` and `email` are the account's name and root email (unique across AWS)."
  type = map(object({
    project = string
    name    = string
    email   = string
  }))
  default = {}

  # The provider also refuses duplicate emails at plan time; checking here too gives the
  # message at `terraform validate` and names the variable.
  validation {
    condition     = length(distinct([for a in values(var.accounts) : lower(a.email)])) == length(var.accounts)
    error_message = "Every account needs its own root email: two accounts share one."
  }

  validation {
    condition     = alltrue([for a in values(var.accounts) : can(regex("^[^\\s@]+@[^\\s@]+\\.[A-Za-z]{2,}$", a.email))])
    error_message = "Every account email must look like name@example.com."
  }

  validation {
    condition     = alltrue([for a in values(var.accounts) : length(a.name) >= 1 && length(a.name) <= 50])
    error_message = "Account names are 1 to 50 characters."
  }
}

variable "deny_leaving_organization" {
  description = "Guardrail on every project OU: deny organizations:LeaveOrganization."
  type        = bool
  default     = true
}

variable "protect_flow_logs" {
  description = "Guardrail on every project OU: deny deleting VPC flow logs and their log groups."
  type        = bool
  default     = true
}

variable "protect_cloudtrail" {
  description = "Guardrail on every project OU: deny stopping, deleting or changing CloudTrail trails."
  type        = bool
  default     = true
}

variable "deny_root_user" {
  description = "Guardrail on every project OU: deny every action by an account's root user."
  type        = bool
  default     = true
}

variable "exempt_principal_arns" {
  description = "Principals (e.g. a break-glass role, `arn:aws:iam::*:role/breakglass`) the flow-log, CloudTrail and region guardrails do not apply to."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.exempt_principal_arns : can(regex("^arn:(aws[a-z-]*|\\*):iam::([0-9]{12}|\\*):(role/|user/|assumed-role/|root)", a))])
    error_message = "Exempt principals must be IAM ARNs such as arn:aws:iam::*:role/breakglass."
  }
}

variable "parent_id" {
  description = "Where the project OUs go: the organization's root (null, the default) or an OU id."
  type        = string
  default     = null
}

variable "role_name" {
  description = "Role AWS creates in every new account for the management account to assume."
  type        = string
  default     = "OrganizationAccountAccessRole"

  validation {
    condition     = can(regex("^[\\w+=,.@-]{1,64}$", var.role_name))
    error_message = "The role name must be 1 to 64 characters of letters, digits and +=,.@_-."
  }
}

variable "close_on_deletion" {
  description = "Close accounts when they are destroyed. Keep false: destroy then moves an account to `retired_parent_id` (the root by default) and removes it from state; it stays in the organization."
  type        = bool
  default     = false
}

variable "account_create_timeout" {
  description = "How long to wait for AWS to create an account (e.g. 30m)."
  type        = string
  default     = "30m"

  validation {
    condition     = can(regex("^([0-9]+h)?([0-9]+m)?([0-9]+s)?$", var.account_create_timeout)) && var.account_create_timeout != ""
    error_message = "The timeout must be a duration such as 30m or 1h30m."
  }
}

variable "tags" {
  description = "Tags for the OUs, their policies, the accounts (each account also gets `project` and `environment_key`) and the trail's parts."
  type        = map(string)
  default     = {}
}

variable "retired_parent_id" {
  description = "Where destroy moves accounts that stay in the organization (and closed ones): the root (null, the default) or an OU id such as a \"Suspended\" OU managed outside this module."
  type        = string
  default     = null

  validation {
    condition     = var.retired_parent_id == null ? true : can(regex("^(r-[a-z0-9]{4,32}|ou-[a-z0-9]{4,32}-[a-z0-9]{8,32})$", var.retired_parent_id))
    error_message = "The retired parent must be a root id (r-xxxx) or an OU id (ou-xxxx-xxxxxxxx)."
  }
}

variable "manage_organization" {
  description = "Manage the organization itself (`platform_organization`: create it or adopt the existing one, policy types, trusted access, the organization trail). False only when another stack already manages it."
  type        = bool
  default     = true
}

variable "enabled_policy_types" {
  description = "Policy types enabled on the organization root; must include SERVICE_CONTROL_POLICY (the guardrails)."
  type        = list(string)
  default     = ["SERVICE_CONTROL_POLICY"]

  validation {
    condition     = contains(var.enabled_policy_types, "SERVICE_CONTROL_POLICY")
    error_message = "The enabled policy types must include SERVICE_CONTROL_POLICY: the guardrails are SCPs."
  }
}

variable "aws_service_access_principals" {
  description = "Service principals given trusted access to the organization; the organization trail needs cloudtrail.amazonaws.com."
  type        = list(string)
  default     = ["cloudtrail.amazonaws.com"]
}

variable "trail_enabled" {
  description = "Create the organization trail: CloudTrail for every account and region, log file validation on, into a private bucket and a CloudWatch log group."
  type        = bool
  default     = true
}

variable "trail_name" {
  description = "Name of the organization trail (also names its log group `/platform/cloudtrail/<name>` and role `<name>-cloudwatch`)."
  type        = string
  default     = "platformkit-organization"

  validation {
    condition     = can(regex("^[A-Za-z0-9]([A-Za-z0-9._-]{1,52})[A-Za-z0-9]$", var.trail_name))
    error_message = "The trail name must be 3 to 54 letters, digits, periods, underscores and hyphens, starting and ending with a letter or digit."
  }
}

variable "trail_bucket_name" {
  description = "S3 bucket for the trail's log files (globally unique name); required when trail_enabled."
  type        = string
  default     = null

  validation {
    condition     = var.trail_bucket_name == null ? true : can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.trail_bucket_name))
    error_message = "The trail bucket name must be 3 to 63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit."
  }
}

variable "trail_log_retention_days" {
  description = "Retention of the trail's CloudWatch log group, in days (a value CloudWatch Logs accepts)."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.trail_log_retention_days)
    error_message = "The retention must be one CloudWatch Logs accepts: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653 days."
  }
}

variable "trail_kms_key_arn" {
  description = "KMS key for the trail's bucket, log files and log group (null: SSE-S3)."
  type        = string
  default     = null
}

variable "trail_force_destroy" {
  description = "Let destroy delete the trail bucket while it still holds log files. Keep false: destroy refuses, before deleting anything, while logs remain."
  type        = bool
  default     = false
}
