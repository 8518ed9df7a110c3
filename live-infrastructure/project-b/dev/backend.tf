terraform {
  # The state of this environment lives in the state backend of its own account (created by
  # bootstrap/state-backend run with assume_role into that account). Bucket, region and lock
  # table come from a partial configuration:
  #
  #   terraform init -backend-config=backend.hcl
  #
  # For a quick local check without a backend: terraform init -backend=false
  backend "s3" {
    key     = "project-b/dev/environment/terraform.tfstate"
    encrypt = true
  }
}
