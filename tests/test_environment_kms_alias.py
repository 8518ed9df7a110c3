"""platform_environment's secrets-key alias is part of what refresh checks (real terraform, real provider
binary, real moto): the alias deleted out of band, or moved to another key, shows in the next plan as an
in-place update naming `cluster_secrets_kms_alias`; the apply makes the alias again on the same key (no
second key), and the plan after it is empty. Every AWS-side check goes through boto3."""

from __future__ import annotations

import pytest

from harness.configs import cluster_environment
from harness.killpoints import inventory, left_over

pytestmark = pytest.mark.e2e

NAME = "pk-alias"
ALIAS = f"alias/{NAME}-eks-secrets"
OWNER = f"platform_environment/{NAME}"

CONFIG = f"""
{cluster_environment(NAME, "10.62.0.0/16", max_size=2)}"""


def alias_target(kms) -> str | None:
    """The key id the environment's alias names, or None when there is no such alias."""
    for a in kms.list_aliases()["Aliases"]:
        if a["AliasName"] == ALIAS:
            return a.get("TargetKeyId")
    return None


def key_id(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def planned_update(tf) -> dict:
    """The one resource change of the next plan; it must be an in-place update."""
    plan = tf.plan_json()
    (change,) = plan["resource_changes"]
    assert change["change"]["actions"] == ["update"], change["change"]["actions"]
    return change


def test_missing_or_moved_alias_is_planned_and_made_again(tf, clean_moto):
    moto = clean_moto
    kms = moto.client("kms")
    tf.write_config(CONFIG, endpoint=moto.endpoint)
    tf.init()
    tf.apply()
    vals = tf.resource_values("platform_environment.e")
    key = vals["cluster_secrets_kms_key_arn"]
    assert vals["cluster_secrets_kms_alias"] == ALIAS
    assert alias_target(kms) == key_id(key)
    assert tf.plan() == 0, tf.last.output

    # The alias deleted out of band: refresh finds it missing, the plan is an update that names it.
    kms.delete_alias(AliasName=ALIAS)
    change = planned_update(tf)
    assert change["change"]["before"]["cluster_secrets_kms_alias"] is None
    assert change["change"]["after"]["cluster_secrets_kms_alias"] == ALIAS
    text = " ".join(tf.run("plan", "-no-color", check=False).output.split())
    assert "cluster_secrets_kms_alias" in text and ALIAS in text, text
    tf.apply()
    assert alias_target(kms) == key_id(key)
    assert tf.resource_values("platform_environment.e")["cluster_secrets_kms_alias"] == ALIAS
    inv = inventory(moto, NAME)
    assert (inv["kms_key"], inv["kms_alias"]) == (1, 1), inv
    assert tf.plan() == 0, tf.last.output

    # The alias moved to a key the environment does not own: the apply points it back at the cluster's key
    # and leaves the other key alone.
    other = kms.create_key(Description="someone else's key")["KeyMetadata"]["KeyId"]
    kms.update_alias(AliasName=ALIAS, TargetKeyId=other)
    change = planned_update(tf)
    assert change["change"]["before"]["cluster_secrets_kms_alias"] is None
    tf.apply()
    assert alias_target(kms) == key_id(key)
    assert kms.describe_key(KeyId=other)["KeyMetadata"]["KeyState"] == "Enabled"
    assert tf.plan() == 0, tf.last.output

    tf.destroy()
    assert left_over(moto, NAME) == {}
    assert alias_target(kms) is None
    assert kms.describe_key(KeyId=other)["KeyMetadata"]["KeyState"] == "Enabled"


def test_given_key_has_no_alias_and_plans_no_change(tf, clean_moto):
    """With `secrets_kms_key_arn` given, the environment makes no alias and records none: no drift."""
    moto = clean_moto
    kms = moto.client("kms")
    given = kms.create_key(Description="the platform team's key")["KeyMetadata"]["Arn"]
    tf.write_config(CONFIG.replace('version = "1.31"', f'version = "1.31"\n    secrets_kms_key_arn = "{given}"'),
                    endpoint=moto.endpoint)
    tf.init()
    tf.apply()
    vals = tf.resource_values("platform_environment.e")
    assert vals["cluster_secrets_kms_key_arn"] == given
    assert vals["cluster_secrets_kms_alias"] is None
    assert alias_target(kms) is None
    assert tf.plan() == 0, tf.last.output
    tf.destroy()
    assert left_over(moto, NAME) == {}
    assert kms.describe_key(KeyId=given)["KeyMetadata"]["KeyState"] == "Enabled"
