"""The main job (scripts/mainjob.py, what scripts/quickstart.sh runs after the build) against the session's moto
and Kubernetes control plane: each stage's claim is checked through the SDK (and the Kubernetes API) while
everything is up (--keep), then --down destroys it all and the same checks see it gone. Every live stack also
still initialises and validates on its own."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.paths import REPO_ROOT

pytestmark = pytest.mark.e2e

MAINJOB = REPO_ROOT / "scripts" / "mainjob.py"
MGMT_BUCKET = "platformkit-management-tfstate"
MEMBER_BUCKET = "platformkit-project-a-dev-tfstate"
SERVICES = ("api-gateway", "login-service", "mobile-service")


def run_job(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, str(MAINJOB), *args], capture_output=True, text=True, timeout=timeout,
                          cwd=REPO_ROOT, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"mainjob.py {' '.join(args)} failed:\n{proc.stdout[-8000:]}\n{proc.stderr[-4000:]}"
    return proc


def member_client(moto, role_arn: str, service: str):
    creds = moto.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="check")["Credentials"]
    return moto.client(service, aws_access_key_id=creds["AccessKeyId"],
                       aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])


def bucket_names(s3) -> set:
    return {b["Name"] for b in s3.list_buckets()["Buckets"]}


def keys(s3, bucket: str) -> set:
    return {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}


@pytest.mark.slow
def test_main_job_up_check_down(clean_moto, kube, mirror, tmp_path):
    moto = clean_moto
    (tmp_path / "token").write_text(kube.token)
    workdir = tmp_path / "job"
    common = ["--workdir", str(workdir), "--json", str(tmp_path / "up.json")]
    up = run_job(*common, "--keep", "--mirror", str(mirror.path), "--endpoint", moto.endpoint,
                 "--kube-host", kube.host, "--kube-token-file", str(tmp_path / "token"),
                 "--kube-ca-file", str(kube.ca_file))
    result = json.loads((tmp_path / "up.json").read_text())
    summary = result["summary"]

    # Progress: stack, step and elapsed time on every line; every stage timed.
    assert "project-a/dev: apply done (" in up.stdout
    assert all(line.startswith("[") and "s] " in line for line in up.stdout.splitlines() if line.strip())
    assert set(result["stage_seconds"]) >= {"state-backend", "management", "member-backend", "project-a/dev",
                                            "plan", "summary"}

    # plan -detailed-exitcode is 0 for every stack.
    assert result["plans"] == {"bootstrap/state-backend": 0, "management": 0,
                               "bootstrap/state-backend[project-a-dev]": 0, "project-a/dev": 0}

    # state-backend: the management account's backend holds the management stack's state.
    s3 = moto.client("s3")
    assert MGMT_BUCKET in bucket_names(s3)
    assert "management/organization/terraform.tfstate" in keys(s3, MGMT_BUCKET)
    assert moto.client("dynamodb").describe_table(TableName=f"{MGMT_BUCKET}-lock")["Table"]["TableStatus"] == "ACTIVE"

    # management: the stack created the organization itself (the endpoint started with none) and its trail,
    # two OUs with three accounts each, guardrails attached.
    org = moto.client("organizations")
    assert org.describe_organization()["Organization"]["FeatureSet"] == "ALL"
    trails = moto.client("cloudtrail").describe_trails()["trailList"]
    assert any(t.get("IsOrganizationTrail") and t.get("LogFileValidationEnabled") for t in trails)
    root = org.list_roots()["Roots"][0]["Id"]
    ous = {o["Name"]: o["Id"] for o in org.list_organizational_units_for_parent(ParentId=root)["OrganizationalUnits"]}
    assert set(ous) == {"OU-Project-A", "OU-Project-B"}
    for name, letter in (("OU-Project-A", "A"), ("OU-Project-B", "B")):
        accounts = {a["Name"] for a in org.list_accounts_for_parent(ParentId=ous[name])["Accounts"]}
        assert accounts == {f"Project{letter}-Dev", f"Project{letter}-QA", f"Project{letter}-Prod"}
        scps = {p["Name"] for p in org.list_policies_for_target(TargetId=ous[name],
                                                                 Filter="SERVICE_CONTROL_POLICY")["Policies"]}
        assert "FullAWSAccess" in scps and len(scps) >= 2
    assert [o["name"] for o in summary["organizational_units"]] == ["OU-Project-A", "OU-Project-B"]

    # member-backend: ProjectA-Dev's own backend, in that account only, holding project-a/dev's state.
    env = summary["environment"]
    account = env["account_id"]
    dev = next(a for a in org.list_accounts()["Accounts"] if a["Name"] == "ProjectA-Dev")
    assert dev["Id"] == account != summary["management_account_id"]
    role = f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole"
    member_s3 = member_client(moto, role, "s3")
    assert MEMBER_BUCKET in bucket_names(member_s3)
    assert MEMBER_BUCKET not in bucket_names(s3)
    assert "project-a/dev/environment/terraform.tfstate" in keys(member_s3, MEMBER_BUCKET)

    # project-a/dev: the environment in ProjectA-Dev.
    ec2 = member_client(moto, role, "ec2")
    vpc = ec2.describe_vpcs(VpcIds=[env["vpc_id"]])["Vpcs"][0]
    assert vpc["CidrBlock"] == "10.10.0.0/16"
    assert set(env["subnets"]) == {"us-east-1a", "us-east-1b"}
    for az, subnets in env["subnets"].items():
        for kind in ("private", "public"):
            subnet = ec2.describe_subnets(SubnetIds=[subnets[kind]])["Subnets"][0]
            assert subnet["AvailabilityZone"] == az and subnet["VpcId"] == env["vpc_id"]
    assert env["vpc_id"] not in {v["VpcId"] for v in moto.client("ec2").describe_vpcs()["Vpcs"]}
    cluster = member_client(moto, role, "eks").describe_cluster(name="project-a-dev")["cluster"]
    assert cluster["endpoint"] == env["cluster_endpoint"]
    rds = member_client(moto, role, "rds").describe_db_instances(DBInstanceIdentifier="project-a-dev-db")
    instance = rds["DBInstances"][0]
    assert instance["Endpoint"]["Address"] == env["database_endpoint"]
    assert instance["StorageEncrypted"] and not instance["PubliclyAccessible"]
    secret = member_client(moto, role, "secretsmanager").describe_secret(SecretId=env["database_secret_arn"])
    assert secret["ARN"] == env["database_secret_arn"]

    # The services: ECR repositories in the member account, images at the tags of image_tags.auto.tfvars.json,
    # one Helm release each in the local cluster.
    tags = json.loads((REPO_ROOT / "live-infrastructure/project-a/dev/image_tags.auto.tfvars.json").read_text())
    ecr = member_client(moto, role, "ecr")
    repos = {r["repositoryName"]: r["repositoryUri"] for r in ecr.describe_repositories()["repositories"]}
    assert set(SERVICES) <= set(repos)
    for name in SERVICES:
        assert env["service_images"][name] == f"{repos[name]}:{tags['image_tags'][name]}"
        assert env["releases"][name]["status"] == "deployed"
        deployment = kube.get(f"/apis/apps/v1/namespaces/apps/deployments/{name}")
        assert deployment is not None, name
        assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == env["service_images"][name]

    # The frontend: a distribution answering on www.<zone>, with its alias records in the zone.
    web = env["frontend"]
    assert web["aliases"] == ["www.dev.project-a.example.com"]
    cf = member_client(moto, role, "cloudfront")
    dist = cf.get_distribution(Id=web["distribution_id"])["Distribution"]
    assert dist["DomainName"] == web["domain_name"]
    assert dist["DistributionConfig"]["Aliases"]["Items"] == ["www.dev.project-a.example.com"]
    r53 = member_client(moto, role, "route53")
    zone = next(z for z in r53.list_hosted_zones()["HostedZones"] if z["Name"] == "dev.project-a.example.com.")
    records = r53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
    assert {(r["Name"], r["Type"]) for r in records} >= {("www.dev.project-a.example.com.", "A"),
                                                         ("www.dev.project-a.example.com.", "AAAA")}

    # --down destroys everything in reverse order.
    run_job("--down", "--workdir", str(workdir), "--json", str(tmp_path / "down.json"))
    down = json.loads((tmp_path / "down.json").read_text())
    assert down["destroyed"] == ["project-a/dev", "bootstrap/state-backend[project-a-dev]", "management",
                                 "bootstrap/state-backend"]
    assert MGMT_BUCKET not in bucket_names(s3)
    assert MEMBER_BUCKET not in bucket_names(member_s3)
    assert not ec2.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [env["vpc_id"]]}])["Vpcs"]
    assert "project-a-dev" not in member_client(moto, role, "eks").list_clusters()["clusters"]
    assert not set(SERVICES) & {r["repositoryName"] for r in ecr.describe_repositories()["repositories"]}
    for name in SERVICES:
        assert kube.get(f"/apis/apps/v1/namespaces/apps/deployments/{name}") is None
    assert not org.list_organizational_units_for_parent(ParentId=root)["OrganizationalUnits"]
    assert web["distribution_id"] not in {d["Id"] for d in
                                          cf.list_distributions()["DistributionList"].get("Items", [])}


LIVE = REPO_ROOT / "live-infrastructure"
STACKS = sorted(str(p.parent.relative_to(LIVE)) for p in LIVE.glob("**/versions.tf") if "shared" not in p.parts)


@pytest.mark.parametrize("stack", STACKS)
def test_every_live_stack_inits_and_validates(tf_factory, stack, tmp_path):
    tf = tf_factory(name=f"repo/live-infrastructure/{stack}")
    root = tmp_path / "repo"
    shutil.copytree(REPO_ROOT / "terraform-modules", root / "terraform-modules", dirs_exist_ok=True)
    shutil.copytree(LIVE / stack, tf.workdir, dirs_exist_ok=True)  # symlinked shared files become copies
    tf.init("-backend=false")
    tf.validate()
