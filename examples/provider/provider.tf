provider "platform" {
  region              = "eu-central-1"   # or AWS_REGION
  allowed_account_ids = ["111111111111"] # refuse any other account (STS GetCallerIdentity at configure)

  # Act inside a member account (the management stack outputs its role ARN).
  assume_role {
    role_arn = "arn:aws:iam::111111111111:role/OrganizationAccountAccessRole"
  }

  default_tags {
    tags = { owner = "platform-team" }
  }
}

# A local emulator: one URL for every service.
provider "platform" {
  alias  = "local"
  region = "us-east-1"

  endpoints {
    url = "http://127.0.0.1:5000"
  }
}
