resource "platform_organizational_unit" "project_a" {
  name = "OU-Project-A" # parent_id defaults to the organization root

  guardrails {                               # every deny is on unless switched off
    allowed_regions       = ["eu-central-1"] # NotAction: global services stay allowed
    exempt_principal_arns = ["arn:aws:iam::*:role/breakglass"]
  }

  extra_policies = {
    deny-s3-public = jsonencode({
      Version = "2012-10-17"
      Statement = [{
        Effect   = "Deny"
        Action   = ["s3:PutBucketPublicAccessBlock", "s3:DeletePublicAccessBlock"]
        Resource = "*"
      }]
    })
  }
}
