"""Newer protocol features through the real binaries: provider-defined functions (Terraform 1.8+), the
ephemeral ``platform_cluster_token`` (1.10+) and resource identity with ``import`` blocks (1.12+), each on
Terraform 1.15.5 (whatever ``--terraform`` says), and Terraform 1.0.3, which knows none of them, still
served by the same provider binary.

Every AWS-side check goes through boto3 against the moto server, never through the provider."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.parse
import zipfile

import pytest

from harness.moto_server import DUMMY_ACCESS_KEY, DUMMY_SECRET_KEY

pytestmark = pytest.mark.e2e

NEW = "1.15.5"
OLD = "1.0.3"


def flat(text: str) -> str:
    return " ".join(text.split())


# --- provider-defined functions ----------------------------------------------------------------------------

FUNCTIONS_HCL = """
resource "platform_environment" "e" {
  name               = "pk-fn"
  vpc_cidr           = "10.40.0.0/16"
  availability_zones = ["us-east-1c", "us-east-1a"]
  subnet_newbits     = 5
}

data "platform_guardrail_policy" "g" {
  allowed_regions       = ["eu-central-1", "us-east-1"]
  exempt_principal_arns = ["arn:aws:iam::*:role/breakglass"]
  deny_root_user        = false
}

output "subnets" {
  value = provider::platform::subnet_cidrs("10.40.0.0/16", ["us-east-1c", "us-east-1a"], 5)
}

output "guardrails" {
  value = provider::platform::guardrail_policy({
    allowed_regions       = ["eu-central-1", "us-east-1"]
    exempt_principal_arns = ["arn:aws:iam::*:role/breakglass"]
    deny_root_user        = false
  })
}

output "guardrails_default" {
  value = provider::platform::guardrail_policy({})
}

output "data_documents" {
  value = data.platform_guardrail_policy.g.documents
}
"""


def test_functions_return_what_the_resources_compute(tf_factory, clean_moto):
    tf = tf_factory(terraform=NEW)
    tf.write_config(FUNCTIONS_HCL, endpoint=clean_moto.endpoint)
    tf.init()
    plan = tf.plan_json()
    outputs = {k: v["value"] for k, v in plan["planned_values"]["outputs"].items()}
    env = next(c for c in plan["resource_changes"] if c["type"] == "platform_environment")["change"]["after"]
    # subnet_cidrs is the environment's own layout (keyed by AZ letter, not list position).
    assert outputs["subnets"] == {
        "private": env["private_subnet_cidrs"],
        "public": env["public_subnet_cidrs"],
    }
    assert outputs["subnets"]["private"]["us-east-1a"] == "10.40.0.0/21"
    assert outputs["subnets"]["private"]["us-east-1c"] == "10.40.16.0/21"
    # guardrail_policy renders what the data source (and the OU) render.
    assert outputs["guardrails"] == outputs["data_documents"]
    assert set(outputs["guardrails"]) == {"baseline", "region-restriction"}
    assert "eu-central-1" in outputs["guardrails"]["region-restriction"]
    baseline = json.loads(outputs["guardrails_default"]["baseline"])
    assert any("organizations:LeaveOrganization" in json.dumps(s) for s in baseline["Statement"])
    assert "region-restriction" not in outputs["guardrails_default"]
    # Nothing was created to work any of this out.
    assert clean_moto.client("ec2").describe_vpcs(
        Filters=[{"Name": "tag:platform:owner", "Values": ["platform_environment/pk-fn"]}]
    )["Vpcs"] == []


@pytest.mark.parametrize(
    "call, message",
    [
        ('subnet_cidrs("10.40.0.1/16", ["us-east-1a"], 4)', "has host bits set"),
        ('subnet_cidrs("10.40.0.0/16", ["us-east-1z"], 4)', "us-east-1z"),
        ('subnet_cidrs("10.40.0.0/24", ["us-east-1a"], 8)', "smaller than AWS's minimum /28"),
        ('guardrail_policy({ allowed_regions = ["narnia"] })', "allowed_regions[0]"),
        ('guardrail_policy({ deny_everything = true })', 'unknown guardrail setting "deny_everything"'),
    ],
)
def test_function_errors_name_the_argument(tf_factory, clean_moto, call, message):
    tf = tf_factory(terraform=NEW)
    tf.write_config(f'output "x" {{\n  value = provider::platform::{call}\n}}\n', endpoint=clean_moto.endpoint)
    tf.init()
    result = tf.run("plan", "-input=false", "-no-color", check=False)
    assert result.returncode == 1, result.stdout
    text = flat(result.output)
    assert "Error in function call" in text or "Invalid function argument" in text, text
    assert message in text, text


# --- ephemeral cluster token --------------------------------------------------------------------------------

def ephemeral_hcl(cluster: str, token_file: str) -> str:
    # The token is only used where ephemeral values may go (a provisioner); the command writes it to a
    # file so the test can check what it is. local-exec's environment is never stored.
    return f"""
ephemeral "platform_cluster_token" "t" {{
  cluster_name = "{cluster}"
}}

resource "terraform_data" "use" {{
  input = "uses the token"
  provisioner "local-exec" {{
    command     = "printf '%s' \\"$TOKEN\\" > {token_file}"
    environment = {{ TOKEN = ephemeral.platform_cluster_token.t.token }}
  }}
}}
"""


def sigv4_presign_valid(url: str, headers: dict, secret_key: str) -> bool:
    """Recomputes the SigV4 query signature of a presigned GET ``url`` sent with ``headers`` (AWS's
    published algorithm) and compares it with the one in the URL."""
    parts = urllib.parse.urlparse(url)
    pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    given = dict(pairs)["X-Amz-Signature"]
    quote = lambda v: urllib.parse.quote(v, safe="-_.~")  # noqa: E731
    canonical_query = "&".join(
        f"{quote(k)}={quote(v)}" for k, v in sorted(pairs) if k != "X-Amz-Signature"
    )
    all_headers = {"host": parts.netloc, **{k.lower(): v for k, v in headers.items()}}
    signed = dict(pairs)["X-Amz-SignedHeaders"].split(";")
    canonical_headers = "".join(f"{h}:{all_headers[h].strip()}\n" for h in signed)
    canonical_request = "\n".join(
        ["GET", parts.path or "/", canonical_query, canonical_headers, ";".join(signed),
         hashlib.sha256(b"").hexdigest()]
    )
    amz_date = dict(pairs)["X-Amz-Date"]
    scope = dict(pairs)["X-Amz-Credential"].split("/", 1)[1]
    string_to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    key = ("AWS4" + secret_key).encode()
    for part in scope.split("/"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.compare_digest(hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest(), given)


def test_ephemeral_cluster_token_never_in_state_or_plan(tf_factory, clean_moto):
    tf = tf_factory(terraform=NEW)
    token_file = tf.workdir / "token.txt"
    tf.write_config(ephemeral_hcl("pk-eph-cluster", str(token_file)), endpoint=clean_moto.endpoint)
    tf.init()
    tf.plan(detailed_exitcode=False, out="tfplan.bin")
    tf.apply(plan_file="tfplan.bin")
    token = token_file.read_text()
    assert token.startswith("k8s-aws-v1."), token[:40]

    # What EKS does with it: decode the presigned STS URL and replay it, with the cluster header it signs.
    url = base64.urlsafe_b64decode(token[len("k8s-aws-v1."):] + "=" * (-len(token) % 4)).decode()
    assert url.startswith(clean_moto.endpoint), url
    query = urllib.parse.parse_qs(urllib.parse.urlparse(url).query)
    assert query["Action"] == ["GetCallerIdentity"]
    assert "x-k8s-aws-id" in query["X-Amz-SignedHeaders"][0].split(";")
    # moto does not check signatures, so check the SigV4 presignature here, as STS would.
    assert sigv4_presign_valid(url, {"x-k8s-aws-id": "pk-eph-cluster"}, DUMMY_SECRET_KEY)
    assert not sigv4_presign_valid(url, {"x-k8s-aws-id": "another-cluster"}, DUMMY_SECRET_KEY)
    assert query["X-Amz-Credential"][0].startswith(f"{DUMMY_ACCESS_KEY}/")

    # Never stored: not in the state, not in the saved plan (any file in it), not in show -json.
    secret = token[len("k8s-aws-v1."):][:40]
    state_text = (tf.workdir / "terraform.tfstate").read_text()
    assert secret not in state_text
    # (the state may name it as a dependency of terraform_data.use, but holds no instance of it)
    assert [r["type"] for r in json.loads(state_text)["resources"]] == ["terraform_data"]
    with zipfile.ZipFile(tf.workdir / "tfplan.bin") as z:
        for name in z.namelist():
            assert secret.encode() not in z.read(name), name
    assert secret not in tf.run("show", "-json", "-no-color", "tfplan.bin").stdout
    assert secret not in tf.run("show", "-json", "-no-color").stdout

    # Made again on the next plan (not cached anywhere): a new plan opens it again and succeeds.
    assert tf.plan() == 0


def test_ephemeral_cluster_token_bad_input_is_a_diagnostic(tf_factory, clean_moto):
    tf = tf_factory(terraform=NEW)
    tf.write_config(
        'ephemeral "platform_cluster_token" "t" {\n  cluster_name = "not a cluster!"\n}\n',
        endpoint=clean_moto.endpoint,
    )
    tf.init()
    result = tf.validate(check=False)
    assert result.returncode == 1
    text = flat(result.output)
    assert "Invalid cluster name" in text, text
    assert "cluster_name" in text


# --- resource identity and import blocks ---------------------------------------------------------------------

BUCKET = "pk-e2e-identity"


def backend_resource(extra: str = "") -> str:
    return f'resource "platform_state_backend" "b" {{\n  bucket = "{BUCKET}"\n{extra}}}\n'


def instance_identity(tf, address: str):
    state = json.loads((tf.workdir / "terraform.tfstate").read_text())
    for res in state["resources"]:
        if f"{res['type']}.{res['name']}" == address:
            inst = res["instances"][0]
            return inst.get("identity"), inst.get("identity_schema_version")
    raise KeyError(address)


def test_import_block_with_identity_plans_no_change(tf_factory, clean_moto):
    tf = tf_factory(terraform=NEW)
    tf.write_config(backend_resource(), endpoint=clean_moto.endpoint)
    tf.init()
    tf.apply()
    # Create stored the identity beside the state.
    assert instance_identity(tf, "platform_state_backend.b") == ({"bucket": BUCKET}, 0)

    # Forget it, then adopt it again with an import block that names it by identity.
    tf.run("state", "rm", "platform_state_backend.b")
    tf.write(
        'import {\n  to       = platform_state_backend.b\n  identity = {\n'
        f'    bucket = "{BUCKET}"\n  }}\n}}\n',
        name="import.tf",
    )
    plan = tf.plan_json()
    (change,) = [c for c in plan["resource_changes"] if c["address"] == "platform_state_backend.b"]
    assert change["change"]["actions"] == ["no-op"], change
    assert change["change"]["importing"].get("identity") == {"bucket": BUCKET}, change["change"]["importing"]
    tf.plan(detailed_exitcode=False)
    assert "1 to import, 0 to add, 0 to change, 0 to destroy" in flat(tf.last.stdout)
    tf.apply()
    assert instance_identity(tf, "platform_state_backend.b") == ({"bucket": BUCKET}, 0)
    tf.remove("import.tf")
    assert tf.plan() == 0
    tf.destroy()
    assert clean_moto.client("s3").list_buckets()["Buckets"] == []


def test_import_block_with_identity_of_a_missing_object_is_an_error(tf_factory, clean_moto):
    tf = tf_factory(terraform=NEW)
    tf.write_config(
        backend_resource()
        + 'import {\n  to       = platform_state_backend.b\n  identity = {\n    bucket = "pk-not-there"\n  }\n}\n',
        endpoint=clean_moto.endpoint,
    )
    tf.init()
    result = tf.run("plan", "-input=false", "-no-color", check=False)
    assert result.returncode == 1
    assert "no such bucket" in flat(result.output)


def test_identity_schemas_cover_every_composite(tf_factory, clean_moto):
    tf = tf_factory(terraform=NEW)
    tf.write_config("", endpoint=clean_moto.endpoint)
    tf.init()
    schema = json.loads(tf.run("providers", "schema", "-json").stdout)
    (provider,) = schema["provider_schemas"].values()
    identities = {k: sorted(v["attributes"]) for k, v in provider.get("resource_identity_schemas", {}).items()}
    assert identities == {
        "platform_environment": ["name"],
        "platform_frontend": ["distribution_id"],
        "platform_helm_release": ["name", "namespace"],
        "platform_microservice": ["name"],
        "platform_org_account": ["account_id"],
        "platform_organizational_unit": ["id"],
        "platform_state_backend": ["bucket"],
    }
    assert set(provider["functions"]) == {"subnet_cidrs", "guardrail_policy"}
    assert set(provider["ephemeral_resource_schemas"]) == {"platform_cluster_token"}


# --- Terraform 1.0.3: none of this, and nothing breaks ------------------------------------------------------

def test_old_terraform_is_served_without_the_new_features(tf_factory, clean_moto):
    tf = tf_factory(terraform=OLD)
    tf.write_config(
        backend_resource()
        + 'output "lockfile" {\n  value = platform_state_backend.b.backend_config_v1_10\n}\n',
        endpoint=clean_moto.endpoint,
    )
    tf.init()
    schema = json.loads(tf.run("providers", "schema", "-json").stdout)
    (provider,) = schema["provider_schemas"].values()
    assert "platform_state_backend" in provider["resource_schemas"]
    # The same binary, the same resources; identities are simply not asked for by this Terraform.
    tf.apply()
    assert tf.plan() == 0
    state = json.loads((tf.workdir / "terraform.tfstate").read_text())
    assert "identity" not in state["resources"][0]["instances"][0]
    tf.run("state", "rm", "platform_state_backend.b")
    tf.import_("platform_state_backend.b", BUCKET)
    plan = tf.plan_json()  # (state rm dropped the output too, so only the output is planned)
    assert [c["change"]["actions"] for c in plan["resource_changes"]] == [["no-op"]]
    assert plan["planned_values"]["outputs"]["lockfile"]["value"]["use_lockfile"] is True
    tf.destroy()
    # A configuration using a function is refused by 1.0.3 itself (it has no provider functions).
    tf.write_config('output "x" {\n  value = provider::platform::subnet_cidrs("10.0.0.0/16", [], 4)\n}\n',
                    endpoint=clean_moto.endpoint)
    result = tf.validate(check=False)
    assert result.returncode != 0


# --- list resources and terraform query -----------------------------------------------------------------------

def query_results(stdout: str) -> list:
    """The resources `terraform query -json` reported: (list address, display name, identity)."""
    found = []
    for line in stdout.splitlines():
        try:
            msg = json.loads(line)
        except json.JSONDecodeError:
            continue
        if msg.get("type") == "list_resource_found":
            body = msg.get("list_resource_found", {})
            found.append((body.get("address"), body.get("display_name"), body.get("identity")))
    return found


def test_query_lists_what_was_created(tf_factory, clean_moto):
    from test_microservice import make_environment, service_hcl

    moto = clean_moto
    org = moto.client("organizations")
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    # Not ours (no owner tag): must not be listed.
    moto.client("s3").create_bucket(Bucket="pk-someone-else")
    org.create_organizational_unit(ParentId=root, Name="OU-Handmade")

    tf = tf_factory(terraform=NEW)
    tf.write_config(
        'resource "platform_state_backend" "a" {\n  bucket = "pk-list-a"\n}\n'
        'resource "platform_state_backend" "b" {\n  bucket = "pk-list-b"\n}\n'
        'resource "platform_organizational_unit" "ou" {\n  name = "OU-Listed"\n}\n'
        + service_hcl(make_environment(moto)),
        endpoint=moto.endpoint,
    )
    tf.init()
    tf.apply()
    ou_id = tf.resource_values("platform_organizational_unit.ou")["id"]

    q = tf_factory(name="query", terraform=NEW)
    q.write_config("", endpoint=moto.endpoint)
    q.write(
        'list "platform_state_backend" "all" {\n  provider = platform\n}\n'
        'list "platform_state_backend" "b_only" {\n  provider = platform\n  config {\n    name_prefix = "pk-list-b"\n  }\n}\n'
        'list "platform_organizational_unit" "all" {\n  provider = platform\n}\n'
        'list "platform_microservice" "all" {\n  provider = platform\n}\n'
        'list "platform_environment" "all" {\n  provider = platform\n}\n',
        name="main.tfquery.hcl",
    )
    q.init()
    result = q.run("query", "-json", "-no-color")
    found = sorted((a, i and json.dumps(i, sort_keys=True)) for a, _, i in query_results(result.stdout))
    assert found == sorted([
        ("list.platform_state_backend.all", json.dumps({"bucket": "pk-list-a"})),
        ("list.platform_state_backend.all", json.dumps({"bucket": "pk-list-b"})),
        ("list.platform_state_backend.b_only", json.dumps({"bucket": "pk-list-b"})),
        ("list.platform_organizational_unit.all", json.dumps({"id": ou_id})),
        ("list.platform_microservice.all", json.dumps({"name": "mobile-service"})),
    ]), result.stdout
    tf.destroy()
