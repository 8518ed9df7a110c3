terraform import platform_state_backend.this acme-prod-tfstate
