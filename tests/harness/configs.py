"""HCL the end-to-end tests share."""

from __future__ import annotations

from typing import Optional


def cluster_environment(name: str, cidr: str, *, max_size: int = 3, desired_size: Optional[int] = None,
                        nat_gateways: Optional[str] = None, extra: str = "") -> str:
    """``platform_environment.e`` with a cluster (1.31) and one node group ``general`` in two AZs: what the
    tests of the layers inside a cluster (services, Helm releases, core services) stand on. No NAT gateway
    unless ``nat_gateways`` says; ``extra`` is HCL put after the node group (e.g. a ``database`` block)."""
    desired = f"\n    desired_size   = {desired_size}" if desired_size is not None else ""
    nat = f'\n  nat_gateways       = "{nat_gateways}"' if nat_gateways else ""
    return f"""resource "platform_environment" "e" {{
  name               = "{name}"
  vpc_cidr           = "{cidr}"
  availability_zones = ["us-east-1a", "us-east-1b"]{nat}

  cluster {{
    version = "1.31"
  }}

  node_groups {{
    name           = "general"
    instance_types = ["t3.large"]
    min_size       = 1
    max_size       = {max_size}{desired}
  }}{extra}
}}
"""
