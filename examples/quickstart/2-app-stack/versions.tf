terraform {
  required_version = ">= 1.0.0"

  required_providers {
    platform = {
      source  = "platformkit/platform"
      version = ">= 0.1.0"
    }
  }

  # State goes to the bucket and lock table made by ../1-state-backend. Everything except the
  # key is given at init time, for example:
  #
  #   terraform init $(terraform -chdir=../1-state-backend output -json backend_config_flags | jq -r '.[]')
  #
  # See README.md for the full list of -backend-config settings.
  backend "s3" {
    key = "quickstart/app-stack/terraform.tfstate"
  }
}
