terraform {
  required_version = ">= 1.0.0"

  required_providers {
    platform = {
      source  = "platformkit/platform"
      version = ">= 0.1.0"
    }
  }

  # No backend: this step creates the bucket that step 2 keeps its state in, so its own state
  # is local (terraform.tfstate in this directory).
}
