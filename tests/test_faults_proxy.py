"""The fault-injecting proxy (tests/harness/faults.py): how it names requests and shapes faults (pure logic,
checked against botocore's own wire parsers), then the proxy itself in front of the real moto server."""

from __future__ import annotations

import threading

import botocore.config
import botocore.exceptions
import pytest
from botocore import parsers
from botocore.awsrequest import HeadersDict
from botocore.session import get_session

from harness.faults import (
    Fault,
    FaultProxy,
    attempt_of,
    fault_for,
    fault_response,
    operation_of,
    s3_operation,
    service_of,
)

AUTH = "AWS4-HMAC-SHA256 Credential=test/20261130/us-east-1/{}/aws4_request, SignedHeaders=host, Signature=ab"


def name(service, method, target, body=b"", **headers):
    headers = {k.replace("_", "-").lower(): v for k, v in headers.items()}
    headers.setdefault("authorization", AUTH.format(service))
    svc = service_of(headers)
    return svc, operation_of(svc, method, target, headers, body)


# --- naming ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("service,method,target,body,expected", [
    ("ec2", "POST", "/", b"Action=CreateVpc&Version=2016-11-15&CidrBlock=10.0.0.0%2F16", "CreateVpc"),
    ("iam", "POST", "/", b"Action=CreateRole&RoleName=x&Version=2010-05-08", "CreateRole"),
    ("sts", "GET", "/?Action=GetCallerIdentity&Version=2011-06-15", b"", "GetCallerIdentity"),
    ("rds", "POST", "/", b"Version=2014-10-31&Action=CreateDBInstance", "CreateDBInstance"),
])
def test_query_protocol_operation_from_action(service, method, target, body, expected):
    assert name(service, method, target, body) == (service, expected)


@pytest.mark.parametrize("service,target_header,expected", [
    ("logs", "Logs_20140328.CreateLogGroup", "CreateLogGroup"),
    ("kms", "TrentService.CreateAlias", "CreateAlias"),
    ("organizations", "AWSOrganizationsV20161128.CreateAccount", "CreateAccount"),
    ("ecr", "AmazonEC2ContainerRegistry_V20150921.PutLifecyclePolicy", "PutLifecyclePolicy"),
    ("dynamodb", "DynamoDB_20120810.DescribeContinuousBackups", "DescribeContinuousBackups"),
])
def test_json_protocol_operation_from_target(service, target_header, expected):
    assert name(service, "POST", "/", b"{}", x_amz_target=target_header) == (service, expected)


def test_unsigned_json_request_named_by_target_prefix():
    headers = {"x-amz-target": "TrentService.ListKeys"}
    assert service_of(headers) == "kms"
    assert service_of({}) == "unknown"


@pytest.mark.parametrize("method,target,expected", [
    ("POST", "/clusters", "CreateCluster"),
    ("GET", "/clusters/env-dev", "DescribeCluster"),
    ("DELETE", "/clusters/env-dev", "DeleteCluster"),
    ("POST", "/clusters/env-dev/update-config", "UpdateClusterConfig"),
    ("POST", "/clusters/env-dev/updates", "UpdateClusterVersion"),
    ("POST", "/clusters/env-dev/node-groups", "CreateNodegroup"),
    ("GET", "/clusters/env-dev/node-groups?maxResults=100", "ListNodegroups"),
    ("GET", "/clusters/env-dev/node-groups/default", "DescribeNodegroup"),
    ("DELETE", "/clusters/env-dev/node-groups/default", "DeleteNodegroup"),
    ("POST", "/clusters/env-dev/node-groups/default/update-config", "UpdateNodegroupConfig"),
    ("POST", "/tags/arn%3Aaws%3Aeks%3Aus-east-1%3A123456789012%3Acluster%2Fenv-dev", "TagResource"),
    ("DELETE", "/tags/arn%3Aaws%3Aeks%3Aus-east-1%3A123456789012%3Acluster%2Fx?tagKeys=a", "UntagResource"),
    ("GET", "/tags/arn%3Aaws%3Aeks%3Aus-east-1%3A123456789012%3Acluster%2Fx", "ListTagsForResource"),
])
def test_eks_rest_operations(method, target, expected):
    assert name("eks", method, target) == ("eks", expected)


@pytest.mark.parametrize("method,target,expected", [
    ("POST", "/2020-05-31/distribution?WithTags", "CreateDistributionWithTags"),
    ("POST", "/2020-05-31/distribution", "CreateDistribution"),
    ("GET", "/2020-05-31/distribution", "ListDistributions"),
    ("GET", "/2020-05-31/distribution/E1ABC", "GetDistribution"),
    ("GET", "/2020-05-31/distribution/E1ABC/config", "GetDistributionConfig"),
    ("PUT", "/2020-05-31/distribution/E1ABC/config", "UpdateDistribution"),
    ("DELETE", "/2020-05-31/distribution/E1ABC", "DeleteDistribution"),
    ("POST", "/2020-05-31/origin-access-control", "CreateOriginAccessControl"),
    ("GET", "/2020-05-31/origin-access-control?MaxItems=100", "ListOriginAccessControls"),
    ("GET", "/2020-05-31/origin-access-control/OAC1", "GetOriginAccessControl"),
    ("DELETE", "/2020-05-31/origin-access-control/OAC1", "DeleteOriginAccessControl"),
    ("GET", "/2020-05-31/tagging?Resource=arn%3Aaws%3Acloudfront", "ListTagsForResource"),
    ("POST", "/2020-05-31/tagging?Operation=Tag&Resource=arn", "TagResource"),
    ("POST", "/2020-05-31/tagging?Operation=Untag&Resource=arn", "UntagResource"),
])
def test_cloudfront_rest_operations(method, target, expected):
    assert name("cloudfront", method, target) == ("cloudfront", expected)


@pytest.mark.parametrize("method,target,expected", [
    ("POST", "/2013-04-01/hostedzone", "CreateHostedZone"),
    ("GET", "/2013-04-01/hostedzone/Z123", "GetHostedZone"),
    ("DELETE", "/2013-04-01/hostedzone/Z123", "DeleteHostedZone"),
    ("GET", "/2013-04-01/hostedzonesbyname?dnsname=example.test", "ListHostedZonesByName"),
    ("POST", "/2013-04-01/hostedzone/Z123/rrset/", "ChangeResourceRecordSets"),
    ("GET", "/2013-04-01/hostedzone/Z123/rrset?maxitems=100", "ListResourceRecordSets"),
    ("GET", "/2013-04-01/change/C1", "GetChange"),
    ("GET", "/2013-04-01/tags/hostedzone/Z123", "ListTagsForResource"),
    ("POST", "/2013-04-01/tags/hostedzone/Z123", "ChangeTagsForResource"),
])
def test_route53_rest_operations(method, target, expected):
    assert name("route53", method, target) == ("route53", expected)


@pytest.mark.parametrize("method,path,query,expected", [
    ("GET", "/", "", "ListBuckets"),
    ("PUT", "/state-bucket", "", "CreateBucket"),
    ("HEAD", "/state-bucket", "", "HeadBucket"),
    ("DELETE", "/state-bucket", "", "DeleteBucket"),
    ("GET", "/state-bucket", "list-type=2&prefix=a", "ListObjectsV2"),
    ("GET", "/state-bucket", "versions", "ListObjectVersions"),
    ("POST", "/state-bucket", "delete", "DeleteObjects"),
    ("PUT", "/state-bucket", "policy", "PutBucketPolicy"),
    ("DELETE", "/state-bucket", "policy", "DeleteBucketPolicy"),
    ("GET", "/state-bucket", "tagging", "GetBucketTagging"),
    ("PUT", "/state-bucket", "versioning", "PutBucketVersioning"),
    ("PUT", "/state-bucket", "encryption", "PutBucketEncryption"),
    ("PUT", "/state-bucket", "lifecycle", "PutBucketLifecycleConfiguration"),
    ("GET", "/state-bucket", "ownershipControls", "GetBucketOwnershipControls"),
    ("PUT", "/state-bucket", "publicAccessBlock", "PutPublicAccessBlock"),
    ("PUT", "/state-bucket/a/b/terraform.tfstate", "", "PutObject"),
    ("GET", "/state-bucket/a/b/terraform.tfstate", "", "GetObject"),
    ("HEAD", "/state-bucket/key", "", "HeadObject"),
    ("DELETE", "/state-bucket/key", "versionId=3", "DeleteObject"),
    ("PUT", "/state-bucket/key", "tagging", "PutObjectTagging"),
])
def test_s3_operations(method, path, query, expected):
    assert s3_operation(method, path, query) == expected
    target = path + ("?" + query if query else "")
    assert name("s3", method, target) == ("s3", expected)


def test_unknown_rest_path_is_named_by_method_and_path():
    assert name("eks", "PATCH", "/nowhere") == ("eks", "PATCH /nowhere")


def test_attempt_header():
    assert attempt_of({"amz-sdk-request": "attempt=3; max=6"}) == 3
    assert attempt_of({"amz-sdk-request": "ttl=20261130T000000Z; attempt=1; max=4"}) == 1
    assert attempt_of({}) == 1


# --- fault shapes: parsed by botocore's parser for the service's protocol ---------------------------------

def parse_error(service: str, operation: str, status: int, headers, body: bytes):
    model = get_session().get_service_model(service)
    parser = parsers.create_parser(model.metadata["protocol"])
    response = {"status_code": status, "headers": HeadersDict(headers), "body": body}
    return parser.parse(response, model.operation_model(operation).output_shape)["Error"]


@pytest.mark.parametrize("service,operation,kind,status,code", [
    ("ec2", "CreateVpc", "throttle", 503, "RequestLimitExceeded"),
    ("iam", "CreateRole", "throttle", 400, "Throttling"),
    ("sts", "GetCallerIdentity", "throttle", 400, "Throttling"),
    ("rds", "CreateDBInstance", "throttle", 400, "Throttling"),
    ("logs", "CreateLogGroup", "throttle", 400, "ThrottlingException"),
    ("kms", "CreateKey", "throttle", 400, "ThrottlingException"),
    ("organizations", "CreateAccount", "throttle", 400, "ThrottlingException"),
    ("ecr", "CreateRepository", "throttle", 400, "ThrottlingException"),
    ("dynamodb", "CreateTable", "throttle", 400, "ThrottlingException"),
    ("eks", "CreateCluster", "throttle", 429, "ThrottlingException"),
    ("s3", "CreateBucket", "throttle", 503, "SlowDown"),
    ("cloudfront", "CreateDistributionWithTags", "throttle", 400, "Throttling"),
    ("route53", "CreateHostedZone", "throttle", 400, "Throttling"),
    ("ec2", "CreateVpc", "5xx", 500, "InternalError"),
    ("s3", "PutObject", "5xx", 500, "InternalError"),
    ("kms", "CreateKey", "5xx", 500, "InternalFailure"),
    ("eks", "DescribeCluster", "5xx", 500, "InternalFailure"),
    ("route53", "GetHostedZone", "5xx", 500, "InternalFailure"),
    ("iam", "GetRole", "5xx", 500, "InternalFailure"),
])
def test_fault_shapes_parse_as_the_service_error(service, operation, kind, status, code):
    fault = fault_for(kind, service)  # no generator: the deterministic 500 for "5xx"
    assert (fault.status, fault.code) == (status, code)
    got_status, headers, body = fault_response(fault, service, request_id="req-1")
    assert got_status == status
    error = parse_error(service, operation, got_status, headers, body)
    assert error["Code"] == code
    assert error["Message"] == fault.message


def test_custom_fault_shape():
    status, headers, body = fault_response(Fault(400, "DBSnapshotAlreadyExists", "exists"), "rds")
    assert parse_error("rds", "CreateDBInstance", status, headers, body)["Code"] == "DBSnapshotAlreadyExists"


def test_seeded_5xx_picks_500_or_503():
    import random

    rng = random.Random(3)
    seen = {fault_for("5xx", "ec2", rng).status for _ in range(50)}
    assert seen == {500, 503}


def test_bad_kinds_refused():
    proxy = FaultProxy("http://127.0.0.1:1")
    with pytest.raises(ValueError):
        proxy.transient(0.1, kinds=("flood",))
    with pytest.raises(ValueError):
        proxy.fail("ec2", "CreateVpc", error="boom")
    with pytest.raises(ValueError):
        proxy.transient(1.5)
    with pytest.raises(ValueError):
        FaultProxy("https://127.0.0.1:1")


# --- the proxy in front of the real moto server -----------------------------------------------------------

def client(moto, proxy, service, attempts=1):
    cfg = botocore.config.Config(retries={"mode": "standard", "max_attempts": attempts})
    return moto.session().client(service, endpoint_url=proxy.url, config=cfg)


@pytest.mark.e2e
def test_proxy_forwards_and_counts(fault_proxy, clean_moto):
    ec2 = client(clean_moto, fault_proxy, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    s3 = client(clean_moto, fault_proxy, "s3")
    s3.create_bucket(Bucket="proxy-test-bucket")
    s3.put_object(Bucket="proxy-test-bucket", Key="a/b", Body=b"hello")
    assert s3.get_object(Bucket="proxy-test-bucket", Key="a/b")["Body"].read() == b"hello"
    assert s3.head_object(Bucket="proxy-test-bucket", Key="a/b")["ContentLength"] == 5
    client(clean_moto, fault_proxy, "kms").create_key()
    client(clean_moto, fault_proxy, "eks").list_clusters()
    stats = fault_proxy.stats()
    for key in [("ec2", "CreateVpc"), ("s3", "CreateBucket"), ("s3", "PutObject"), ("s3", "GetObject"),
                ("s3", "HeadObject"), ("kms", "CreateKey"), ("eks", "ListClusters")]:
        assert stats[key].requests == stats[key].calls == stats[key].forwarded == 1, key
        assert stats[key].faults == stats[key].retries == 0, key
    direct = clean_moto.client("ec2")
    assert vpc in [v["VpcId"] for v in direct.describe_vpcs()["Vpcs"]]


@pytest.mark.e2e
def test_transient_faults_are_retried_and_counted(fault_proxy, clean_moto):
    fault_proxy.transient(0.4, kinds=("throttle", "5xx", "reset"))
    logs = client(clean_moto, fault_proxy, "logs", attempts=30)
    for i in range(12):
        logs.create_log_group(logGroupName=f"g{i}")
    stats = fault_proxy.stats()[("logs", "CreateLogGroup")]
    assert stats.calls == 12
    assert stats.faults == stats.retries > 0  # every fault came back as one retry
    assert stats.forwarded == 12  # a fault never reached moto: each group created exactly once
    kinds = {c.fault for c in fault_proxy.calls if c.fault}
    assert kinds <= {"throttle", "InternalError", "ServiceUnavailable", "InternalFailure", "reset"}
    assert "reset" in kinds
    groups = clean_moto.client("logs").describe_log_groups()["logGroups"]
    assert len(groups) == 12
    print("\n" + fault_proxy.report())


@pytest.mark.e2e
def test_permanent_failure_after_n_calls(fault_proxy, clean_moto):
    fault_proxy.fail("ec2", "CreateVpc", after=2, error="throttle")
    ec2 = client(clean_moto, fault_proxy, "ec2", attempts=3)
    ec2.create_vpc(CidrBlock="10.1.0.0/16")
    ec2.create_vpc(CidrBlock="10.2.0.0/16")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        ec2.create_vpc(CidrBlock="10.3.0.0/16")
    assert err.value.response["Error"]["Code"] == "RequestLimitExceeded"
    stats = fault_proxy.stats()[("ec2", "CreateVpc")]
    # botocore's max_attempts=3 means 3 retries after the first attempt: all 4 requests of call 3 fault.
    assert (stats.calls, stats.retries, stats.faults, stats.forwarded) == (3, 3, 4, 2)
    # Other operations are untouched.
    ec2.describe_vpcs()
    fault_proxy.fail("s3", "CreateBucket", error=Fault(409, "BucketAlreadyExists", "taken"))
    with pytest.raises(botocore.exceptions.ClientError) as err:
        client(clean_moto, fault_proxy, "s3").create_bucket(Bucket="never-made")
    assert err.value.response["Error"]["Code"] == "BucketAlreadyExists"
    assert clean_moto.client("s3").list_buckets()["Buckets"] == []


@pytest.mark.e2e
def test_reset_after_applies_the_request_and_loses_the_answer(fault_proxy, clean_moto):
    fault_proxy.fail("logs", "CreateLogGroup", after=0, error="reset-after")
    with pytest.raises(botocore.exceptions.ConnectionClosedError):
        client(clean_moto, fault_proxy, "logs").create_log_group(logGroupName="applied")
    assert [g["logGroupName"] for g in clean_moto.client("logs").describe_log_groups()["logGroups"]] == ["applied"]
    fault_proxy.clear()
    fault_proxy.fail("logs", "CreateLogGroup", error="reset")
    with pytest.raises(botocore.exceptions.ConnectionClosedError):
        client(clean_moto, fault_proxy, "logs").create_log_group(logGroupName="not-applied")
    assert len(clean_moto.client("logs").describe_log_groups()["logGroups"]) == 1


@pytest.mark.e2e
def test_once_faults_only_the_first_request_of_the_nth_call(fault_proxy, clean_moto):
    fault_proxy.once("logs", "CreateLogGroup", call=2, error="reset-after")
    logs = client(clean_moto, fault_proxy, "logs", attempts=3)
    logs.create_log_group(logGroupName="one")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        logs.create_log_group(logGroupName="two")  # applied, answer lost; the retry finds it made
    assert err.value.response["Error"]["Code"] == "ResourceAlreadyExistsException"
    logs.create_log_group(logGroupName="three")
    stats = fault_proxy.stats()[("logs", "CreateLogGroup")]
    assert (stats.calls, stats.retries, stats.faults, stats.forwarded) == (3, 1, 1, 4)
    assert [c.fault for c in fault_proxy.calls] == [None, "reset-after", None, None]
    with pytest.raises(ValueError):
        fault_proxy.once("logs", "CreateLogGroup", call=0)


@pytest.mark.e2e
def test_on_call_hook_sees_the_nth_call(fault_proxy, clean_moto):
    seen_before, seen_after = [], []
    reached = threading.Event()

    def after(call):
        seen_after.append((call.operation, call.n, call.status))
        if call.operation == "CreateKey" and call.n == 2:
            reached.set()

    fault_proxy.on_call(lambda call: seen_before.append((call.operation, call.n, call.status)), when="before")
    fault_proxy.on_call(after, when="after")
    kms = client(clean_moto, fault_proxy, "kms")
    kms.create_key()
    assert not reached.is_set()
    kms.create_key()
    assert reached.is_set()
    assert seen_before == [("CreateKey", 1, None), ("CreateKey", 2, None)]
    assert seen_after == [("CreateKey", 1, 200), ("CreateKey", 2, 200)]
