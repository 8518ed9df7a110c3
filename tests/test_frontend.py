"""platform_frontend end to end: the real terraform 1.0.3, the real provider binary and a real moto server.
Every check on AWS goes through boto3; the pipeline step runs the exact `sync_command` and
`invalidation_command` the resource computes, with the real AWS CLI pointed at moto."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess

import pytest

from harness.moto_server import DUMMY_ACCESS_KEY, DUMMY_SECRET_KEY, clean_env

pytestmark = pytest.mark.e2e

CERT = "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
CERT_2 = "arn:aws:acm:us-east-1:123456789012:certificate/66666666-7777-8888-9999-000000000000"


def flat(text: str) -> str:
    return " ".join(text.split())


def moto_requests(moto) -> list[str]:
    text = moto.log_path.read_text(errors="replace") if moto.log_path.exists() else ""
    return [line for line in text.splitlines() if '"' in line and "HTTP/1.1" in line and "moto-api" not in line]


def frontend_hcl(aliases=("www.your-app.com",), price_class="PriceClass_100", extra="", cert=CERT) -> str:
    alias_list = ", ".join(f'"{a}"' for a in aliases)
    # moto enforces a bucket-policy Deny without its Condition, so the TLS-only statement would block
    # the pipeline's upload over moto's plain HTTP: it is switched off here and tested on its own below.
    return f"""
resource "platform_frontend" "web" {{
  name            = "your-app-web"
  aliases         = [{alias_list}]
  certificate_arn = "{cert}"
  zone_name       = "your-app.com"
  price_class     = "{price_class}"
  require_tls     = false
  tags            = {{ team = "web" }}
{extra}
}}

output "web" {{
  value = platform_frontend.web
}}
"""


def records(moto, zone_id: str) -> dict:
    sets = moto.client("route53").list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    return {(r["Name"].rstrip("."), r["Type"]): r.get("AliasTarget", {}).get("DNSName", "").rstrip(".")
            for r in sets if "AliasTarget" in r}


def assert_bucket_private(moto, bucket: str) -> None:
    s3 = moto.client("s3")
    pab = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(pab[k] for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"))
    assert s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerEnforced"}]
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    enc = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert enc["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def pipeline(moto, command: str, cwd) -> subprocess.CompletedProcess:
    """Run a command the way the frontend pipeline does: the AWS CLI, credentials from the environment,
    the endpoint pointed at moto (the only difference from the real pipeline)."""
    aws = shutil.which("aws")
    if aws is None:
        pytest.skip("the AWS CLI is not installed")
    args = shlex.split(command)
    assert args[0] == "aws"
    env = clean_env(
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID=DUMMY_ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=DUMMY_SECRET_KEY,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    r = subprocess.run([aws, "--endpoint-url", moto.endpoint, *args[1:]], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def test_frontend_lifecycle(tf, clean_moto, tmp_path):
    moto = clean_moto
    tf.write_config(frontend_hcl(), endpoint=moto.endpoint)
    tf.init()
    plan = tf.plan_json()
    after = plan["resource_changes"][0]["change"]["after"]
    assert after["bucket_name"] == "your-app-web"
    assert after["sync_command"] == "aws s3 sync ./dist s3://your-app-web --delete"
    assert after["bucket_arn"] == "arn:aws:s3:::your-app-web"

    tf.apply()
    web = tf.outputs()["web"]
    bucket, dist_id = web["bucket_name"], web["distribution_id"]
    assert web["id"] == dist_id and web["domain_name"].endswith(".cloudfront.net")
    assert_bucket_private(moto, bucket)

    # The bucket policy lets only this distribution read.
    policy = json.loads(moto.client("s3").get_bucket_policy(Bucket=bucket)["Policy"])
    (stmt,) = policy["Statement"]
    assert stmt["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert stmt["Action"] == "s3:GetObject"
    assert stmt["Condition"] == {"StringEquals": {"AWS:SourceArn": web["distribution_arn"]}}

    cf = moto.client("cloudfront")
    cfg = cf.get_distribution_config(Id=dist_id)["DistributionConfig"]
    assert cfg["Enabled"] is True
    assert cfg["Aliases"]["Items"] == ["www.your-app.com"]
    assert cfg["DefaultRootObject"] == "index.html"
    assert cfg["PriceClass"] == "PriceClass_100"
    assert cfg["HttpVersion"] == "http2and3"
    assert cfg["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    assert cfg["DefaultCacheBehavior"]["Compress"] is True
    assert cfg["ViewerCertificate"]["ACMCertificateArn"] == CERT
    assert cfg["ViewerCertificate"]["MinimumProtocolVersion"] == "TLSv1.2_2021"
    errors = {e["ErrorCode"]: (e["ResponsePagePath"], str(e["ResponseCode"])) for e in cfg["CustomErrorResponses"]["Items"]}
    assert errors == {403: ("/index.html", "200"), 404: ("/index.html", "200")}
    origin = cfg["Origins"]["Items"][0]
    assert origin["DomainName"] == f"{bucket}.s3.us-east-1.amazonaws.com"
    oacs = cf.list_origin_access_controls()["OriginAccessControlList"]["Items"]
    assert [(o["Id"], o["SigningProtocol"], o["SigningBehavior"], o["OriginAccessControlOriginType"]) for o in oacs] == [
        (web["origin_access_control_id"], "sigv4", "always", "s3")]

    zone_id = web["zone_id"]
    assert web["name_servers"]
    assert records(moto, zone_id) == {("www.your-app.com", "A"): web["domain_name"],
                                      ("www.your-app.com", "AAAA"): web["domain_name"]}
    assert tf.plan() == 0, tf.last.output

    # An alias, a price class and a certificate changed in place: same distribution, new records.
    tf.write_config(frontend_hcl(aliases=("www.your-app.com", "your-app.com"), price_class="PriceClass_200",
                                 cert=CERT_2), endpoint=moto.endpoint)
    plan = tf.plan_json()
    (change,) = plan["resource_changes"]
    assert change["change"]["actions"] == ["update"]
    before, after = change["change"]["before"], change["change"]["after"]
    assert {k for k in set(before) | set(after) if before.get(k) != after.get(k)} == {
        "aliases", "price_class", "certificate_arn"}
    assert not any(change["change"]["after_unknown"].values())
    tf.apply()
    assert tf.outputs()["web"]["distribution_id"] == dist_id
    cfg = cf.get_distribution_config(Id=dist_id)["DistributionConfig"]
    assert sorted(cfg["Aliases"]["Items"]) == ["www.your-app.com", "your-app.com"]
    assert cfg["PriceClass"] == "PriceClass_200"
    assert cfg["ViewerCertificate"]["ACMCertificateArn"] == CERT_2
    assert set(records(moto, zone_id)) == {("www.your-app.com", "A"), ("www.your-app.com", "AAAA"),
                                           ("your-app.com", "A"), ("your-app.com", "AAAA")}
    # Read is batched and concurrent: the bucket's settings (HEAD + 8 GETs), one GetDistribution, one
    # GetOriginAccessControl, GetHostedZone and one ListResourceRecordSets for every record.
    calls = len(moto_requests(moto))
    assert tf.plan() == 0, tf.last.output
    refresh_calls = len(moto_requests(moto)) - calls
    assert refresh_calls <= 13, refresh_calls

    # Drift: aliases changed and the public-access block removed out of band; apply repairs both.
    moto.client("s3").delete_public_access_block(Bucket=bucket)
    assert tf.plan() == 2
    assert "public_access_block_enabled" in tf.last.output
    tf.apply()
    assert_bucket_private(moto, bucket)
    assert tf.plan() == 0, tf.last.output

    # Records deleted out of band are recreated.
    r53 = moto.client("route53")
    r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [{
        "Action": "DELETE", "ResourceRecordSet": {
            "Name": "your-app.com", "Type": "AAAA",
            "AliasTarget": {"HostedZoneId": "Z2FDTNDATAQYW2", "DNSName": web["domain_name"], "EvaluateTargetHealth": False}}}]})
    assert tf.plan() == 2 and "records_in_place" in tf.last.output
    tf.apply()
    assert ("your-app.com", "AAAA") in records(moto, zone_id)
    assert tf.plan() == 0, tf.last.output

    # The pipeline: sync ./dist and invalidate, with the exact commands the resource computed.
    dist_dir = tmp_path / "dist"
    dist_dir.mkdir()
    (dist_dir / "index.html").write_text("<!doctype html><title>app</title>")
    (dist_dir / "app.js").write_text("console.log('hi')")
    web = tf.outputs()["web"]
    pipeline(moto, web["sync_command"], tmp_path)
    keys = sorted(o["Key"] for o in moto.client("s3").list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == ["app.js", "index.html"]
    pipeline(moto, web["invalidation_command"], tmp_path)
    inv = cf.list_invalidations(DistributionId=dist_id)["InvalidationList"]
    assert inv["Quantity"] == 1

    # Destroy refuses while the bucket holds the site, unless force_destroy.
    result = tf.destroy(check=False)
    assert result.returncode != 0 and "force_destroy" in flat(result.output)
    assert cf.get_distribution(Id=dist_id)["Distribution"]["Id"] == dist_id
    tf.write_config(frontend_hcl(aliases=("www.your-app.com", "your-app.com"), price_class="PriceClass_200",
                                 cert=CERT_2, extra="  force_destroy = true"), endpoint=moto.endpoint)
    tf.apply()
    tf.destroy()
    assert moto.client("s3").list_buckets()["Buckets"] == []
    assert cf.list_distributions()["DistributionList"].get("Items", []) == []
    assert cf.list_origin_access_controls()["OriginAccessControlList"].get("Items", []) == []
    assert moto.client("route53").list_hosted_zones()["HostedZones"] == []


def test_given_zone_import_and_tls_policy(tf_factory, clean_moto):
    moto = clean_moto
    r53 = moto.client("route53")
    zone_id = r53.create_hosted_zone(Name="example-shop.com", CallerReference="given")["HostedZone"]["Id"].split("/")[-1]
    body = f"""
resource "platform_frontend" "web" {{
  name            = "shop-web"
  aliases         = ["www.example-shop.com"]
  certificate_arn = "{CERT}"
  hosted_zone_id  = "{zone_id}"
}}
"""
    first = tf_factory("filesystem", name="first")
    first.write_config(body, endpoint=moto.endpoint)
    first.init()
    first.apply()
    web = first.resource_values("platform_frontend.web")
    # The default bucket policy also denies plain-HTTP access.
    policy = json.loads(moto.client("s3").get_bucket_policy(Bucket="shop-web")["Policy"])
    assert [s["Effect"] for s in policy["Statement"]] == ["Allow", "Deny"]
    assert policy["Statement"][1]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert ("www.example-shop.com", "A") in records(moto, zone_id)

    # Import by distribution id into a fresh configuration: no change planned.
    second = tf_factory("filesystem", name="second")
    second.write_config(body, endpoint=moto.endpoint)
    second.init()
    second.import_("platform_frontend.web", web["distribution_id"])
    imported = second.resource_values("platform_frontend.web")
    for attr in ("bucket_name", "origin_access_control_id", "domain_name", "zone_id", "bucket_policy", "aliases"):
        assert imported[attr] == web[attr], attr
    assert second.plan() == 0, second.last.output

    # Destroy leaves the given zone (and its other records) alone.
    first.destroy()
    assert r53.get_hosted_zone(Id=zone_id)["HostedZone"]["Name"] == "example-shop.com."
    assert records(moto, zone_id) == {}


@pytest.mark.parametrize(
    "override, attribute, message",
    [
        ('name = "Web"', "name", "Invalid name"),
        ('bucket_name = "my.web.bucket"', "bucket_name", "must not contain dots"),
        ('aliases = ["WWW.x.com"]', "aliases", "Invalid alias"),
        ('aliases = ["www.other.com"]', "aliases", "Alias outside the zone"),
        ('certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/x"', "certificate_arn", "us-east-1"),
        ('price_class = "PriceClass_1"', "price_class", "Invalid price class"),
        ('default_root_object = "/index.html"', "default_root_object", "Invalid default root object"),
        ('hosted_zone_id = "zone-1"', "hosted_zone_id", "Invalid hosted zone id"),
        ('zone_name = "localhost"', "zone_name", "Invalid zone name"),
        ('tags = { "aws:x" = "y" }', "tags", "Reserved tag key"),
        ('hosted_zone_id = "Z0123456789ABC"', "zone_name", "Conflicting zone settings"),
    ],
)
def test_bad_input_is_refused_before_any_aws_call(tf, clean_moto, override, attribute, message):
    base = {
        "name": '"your-app-web"',
        "aliases": '["www.your-app.com"]',
        "certificate_arn": f'"{CERT}"',
        "zone_name": '"your-app.com"',
    }
    key = override.split("=")[0].strip()
    body = "\n".join(f"  {k} = {v}" for k, v in base.items() if k != key)
    tf.write_config(f'resource "platform_frontend" "web" {{\n{body}\n  {override}\n}}\n', endpoint=clean_moto.endpoint)
    tf.init()
    before = len(moto_requests(clean_moto))
    result = tf.run("validate", "-no-color", check=False)
    assert result.returncode != 0
    assert message in flat(result.output), result.output
    assert attribute in flat(result.output)
    result = tf.run("plan", "-no-color", check=False)
    assert result.returncode != 0 and message in flat(result.output)
    assert len(moto_requests(clean_moto)) == before, "the provider called AWS for an invalid config"


def test_aliases_need_a_certificate_and_a_zone(tf, clean_moto):
    tf.write_config('resource "platform_frontend" "web" {\n  name = "your-app-web"\n  aliases = ["www.your-app.com"]\n}\n',
                    endpoint=clean_moto.endpoint)
    tf.init()
    result = tf.run("validate", "-no-color", check=False)
    assert result.returncode != 0
    out = flat(result.output)
    assert "Aliases need a certificate" in out and "Aliases need a zone" in out


def test_frontend_module(tf, clean_moto):
    """terraform-modules/frontend wraps the resource: its outputs are the pipeline's inputs."""
    from harness.paths import REPO_ROOT
    from harness.terraform import hcl_string

    moto = clean_moto
    module = REPO_ROOT / "terraform-modules" / "frontend"
    tf.write_config(f"""
module "web" {{
  source          = {hcl_string(str(module))}
  name            = "mod-web"
  aliases         = ["www.mod-app.com"]
  certificate_arn = "{CERT}"
  zone_name       = "mod-app.com"
  require_tls     = false
}}

output "deploy" {{
  value = [module.web.sync_command, module.web.invalidation_command]
}}

output "zone" {{
  value = {{ id = module.web.zone_id, name_servers = module.web.name_servers }}
}}
""", endpoint=moto.endpoint)
    tf.init()
    tf.apply()
    out = tf.outputs()
    dist_id = moto.client("cloudfront").list_distributions()["DistributionList"]["Items"][0]["Id"]
    assert out["deploy"] == ["aws s3 sync ./dist s3://mod-web --delete",
                             f"aws cloudfront create-invalidation --distribution-id {dist_id} --paths '/*'"]
    assert out["zone"]["name_servers"]
    assert ("www.mod-app.com", "AAAA") in records(moto, out["zone"]["id"])
    assert tf.plan() == 0, tf.last.output
    tf.destroy()
    assert moto.client("s3").list_buckets()["Buckets"] == []


def test_partial_failure_keeps_what_was_created(tf, clean_moto):
    """A given hosted zone that does not exist: the bucket, OAC and distribution are created and kept in state
    with the error; once the zone is fixed the next apply converges and destroy leaves nothing behind."""
    moto = clean_moto
    body = f"""
resource "platform_frontend" "web" {{
  name            = "part-web"
  aliases         = ["www.part-app.com"]
  certificate_arn = "{CERT}"
  hosted_zone_id  = "ZNOSUCHZONE123"
}}
"""
    tf.write_config(body, endpoint=moto.endpoint)
    tf.init()
    result = tf.apply(check=False)
    assert result.returncode != 0 and "Could not set up the hosted zone" in flat(result.output)
    state = tf.resource_values("platform_frontend.web")
    assert state["distribution_id"] and state["origin_access_control_id"]
    assert state["records_in_place"] is False
    assert len(moto.client("cloudfront").list_distributions()["DistributionList"]["Items"]) == 1

    zone_id = moto.client("route53").create_hosted_zone(
        Name="part-app.com", CallerReference="fix")["HostedZone"]["Id"].split("/")[-1]
    tf.write_config(body.replace("ZNOSUCHZONE123", zone_id), endpoint=moto.endpoint)
    tf.apply()
    assert ("www.part-app.com", "A") in records(moto, zone_id)
    assert len(moto.client("cloudfront").list_distributions()["DistributionList"]["Items"]) == 1
    assert tf.plan() == 0, tf.last.output
    tf.destroy()
    assert moto.client("s3").list_buckets()["Buckets"] == []
    assert moto.client("cloudfront").list_distributions()["DistributionList"].get("Items", []) == []


def test_refuses_a_bucket_it_does_not_own(tf, clean_moto):
    moto = clean_moto
    moto.client("s3").create_bucket(Bucket="taken-web")
    tf.write_config('resource "platform_frontend" "web" {\n  name = "taken-web"\n}\n', endpoint=moto.endpoint)
    tf.init()
    result = tf.apply(check=False)
    assert result.returncode != 0
    assert "not managed by this frontend" in flat(result.output)
    # What was created (the OAC) is in state, so destroy cleans it up; the foreign bucket is untouched.
    tf.destroy()
    assert moto.client("cloudfront").list_origin_access_controls()["OriginAccessControlList"].get("Items", []) == []
    assert [b["Name"] for b in moto.client("s3").list_buckets()["Buckets"]] == ["taken-web"]


def test_without_a_certificate_the_next_plan_is_empty(tf, clean_moto):
    """No aliases and no certificate (the CloudFront default certificate), tags beside default_tags: after apply
    the next plan has no changes (the default certificate once read back as certificate_arn = "")."""
    tf.write_config('''
resource "platform_frontend" "web" {
  name      = "project-a-dev-web"
  zone_name = "dev.project-a.example.com"
  tags      = { "cost-center" = "project-a" }
}
''', endpoint=clean_moto.endpoint, provider_extra='''
  default_tags {
    tags = {
      project = "project-a"
      stage   = "dev"
    }
  }
''')
    tf.init()
    tf.apply()
    assert tf.resource_values("platform_frontend.web")["certificate_arn"] is None
    assert tf.run("plan", "-detailed-exitcode", "-no-color", check=False).returncode == 0
