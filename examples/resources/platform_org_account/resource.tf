resource "platform_organizational_unit" "project_a" {
  name = "OU-Project-A"
}

resource "platform_org_account" "project_a_dev" {
  name      = "ProjectA-Dev"
  email     = "aws+project-a-dev@example.com"
  parent_id = platform_organizational_unit.project_a.id

  timeouts {
    create = "30m"
  }
}

# What an environment stack assumes to deploy into the account.
output "project_a_dev_role_arn" {
  value = platform_org_account.project_a_dev.access_role_arn
}
