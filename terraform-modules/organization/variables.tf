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
  description = "One member account per environment, keyed by a stable key (e.g. `project-a-dev`). `project` is a key of `projects` (the account is placed in that project's OU); `name` and `email` are the account's name and root email (unique across AWS)."
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
  description = "Where the project OUs go: the root (null, the default) or an OU id."
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
  description = "Close accounts when they are destroyed. Keep false: destroy then only removes an account from state and leaves it in its OU."
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
  description = "Tags for the OUs, their policies and the accounts (each account also gets `project` and `environment_key`)."
  type        = map(string)
  default     = {}
}
