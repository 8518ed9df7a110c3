# One per management account: creates the organization (all features) or adopts the existing one.
resource "platform_organization" "this" {
  trail {
    bucket_name = "example-organization-trail"
  }
}

resource "platform_organizational_unit" "project_a" {
  name      = "OU-Project-A"
  parent_id = platform_organization.this.root_id
}
