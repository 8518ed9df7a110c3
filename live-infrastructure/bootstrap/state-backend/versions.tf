terraform {
  required_version = ">= 1.0.0"

  required_providers {
    platform = {
      source  = "platformkit/platform"
      version = ">= 0.1.0"
    }
  }

  # No backend block on purpose: this stack creates the bucket and the lock table every other
  # stack keeps its state in, so its own state cannot live there before it has run. It uses
  # local state (terraform.tfstate here, git-ignored). See README.md for how to keep it safe or
  # migrate it into the bucket afterwards.
}
