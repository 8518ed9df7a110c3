# State in the management account's backend (bootstrap/state-backend). Bucket, region and lock
# table come from a partial configuration: terraform init -backend-config=backend.hcl
terraform {
  backend "s3" {
    key = "management/organization/terraform.tfstate"
  }
}
