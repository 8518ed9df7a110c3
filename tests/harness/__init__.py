"""End-to-end test harness: real Terraform (.tools/bin/terraform v1.0.3), the real provider binary packed
into a mirror, and a real moto server on 127.0.0.1. The pytest fixtures live in tests/conftest.py."""

from .https_mirror import HttpsMirror, make_test_ca
from .mirror import Mirror, build_mirror
from .moto_server import MotoServer, free_port, wait_until
from .paths import PROVIDER_ADDR, PROVIDER_SOURCE, PROVIDER_VERSION, REPO_ROOT
from .terraform import (
    Terraform,
    TerraformError,
    TfResult,
    cli_config_text,
    hcl_string,
    lock_file_hashes,
    platform_config,
    provider_hcl,
    required_providers_hcl,
    write_cli_config,
)

__all__ = [
    "HttpsMirror", "make_test_ca", "Mirror", "build_mirror", "MotoServer", "free_port", "wait_until",
    "PROVIDER_ADDR", "PROVIDER_SOURCE", "PROVIDER_VERSION", "REPO_ROOT", "Terraform", "TerraformError",
    "TfResult", "cli_config_text", "hcl_string", "lock_file_hashes", "platform_config", "provider_hcl",
    "required_providers_hcl", "write_cli_config",
]
