"""The rest of test_resume_composites.py (see its docstring): for the rows marked `replace`, what the plain next
apply (a replacement of the tainted resource) does; and `platform_cluster_services` failing part-way (an AWS
operation refused, or a Helm release the API server's objects make fail), on both paths. These need more time
(a replacement deletes and re-creates; the services need an environment and five releases), so
scripts/test.sh runs this file on the first Terraform version only (ONCE)."""

from __future__ import annotations

import pytest

from test_resume_composites import REPLACE, SERVICES_PATHS, check_row, check_services_row

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.mark.parametrize("row", REPLACE)
def test_failed_create_then_plain_apply_replaces(tf, clean_moto, fault_proxy, row):
    check_row(tf, clean_moto, fault_proxy, row, "replace")


@pytest.mark.parametrize("row,path", SERVICES_PATHS, ids=[f"{r}-{p}" for r, p in SERVICES_PATHS])
def test_cluster_services_failed_create_then_next_plan_and_apply(tf, clean_moto, fault_proxy, kube, chart_repo,
                                                                  row, path):
    check_services_row(tf, clean_moto, fault_proxy, kube, chart_repo, row, path)
