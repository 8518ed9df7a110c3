terraform {
  # Partial configuration: the bucket, region and lock table come from a file made from the
  # bootstrap/state-backend outputs (see backend.hcl.example, or backend-local.hcl.example for
  # a local emulator):
  #
  #   terraform init -backend-config=backend.hcl
  #
  # The key stays here, so no two stacks can end up sharing one state object by accident.
  backend "s3" {
    key     = "bootstrap/remote-state-demo/terraform.tfstate"
    encrypt = true
  }
}
