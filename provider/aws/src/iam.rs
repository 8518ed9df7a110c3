//! IAM role steps more than one composite takes.

use super::step::{Absent, Step, StepError};
use super::tags::TagDiff;
use aws_sdk_iam::types::Tag;
use aws_sdk_iam::Client;
use std::collections::BTreeMap;

/// The error code IAM answers for a role or policy that is not there.
pub const NO_SUCH_ENTITY: &[&str] = &["NoSuchEntity"];

/// Detaches a managed policy; one already detached (or a role already gone) is fine.
pub async fn detach_policy(iam: &Client, role: &str, policy_arn: &str) -> Result<(), StepError> {
    iam.detach_role_policy()
        .role_name(role)
        .policy_arn(policy_arn)
        .send()
        .await
        .step("DetachRolePolicy")
        .absent(NO_SUCH_ENTITY)?;
    Ok(())
}

/// Deletes an inline policy; one already gone is fine.
pub async fn delete_inline_policy(iam: &Client, role: &str, name: &str) -> Result<(), StepError> {
    iam.delete_role_policy()
        .role_name(role)
        .policy_name(name)
        .send()
        .await
        .step("DeleteRolePolicy")
        .absent(NO_SUCH_ENTITY)?;
    Ok(())
}

/// Deletes a role after deleting its inline policies and detaching its managed ones (IAM
/// refuses to delete a role that has any). A role that is already gone is fine. Whether the
/// role is the caller's to delete is the caller's check.
pub async fn delete_role(iam: &Client, role: &str) -> Result<(), StepError> {
    let Some(inline) = iam
        .list_role_policies()
        .role_name(role)
        .send()
        .await
        .step("ListRolePolicies")
        .absent(NO_SUCH_ENTITY)?
    else {
        return Ok(());
    };
    for p in inline.policy_names() {
        delete_inline_policy(iam, role, p).await?;
    }
    let attached = iam
        .list_attached_role_policies()
        .role_name(role)
        .max_items(1000)
        .send()
        .await
        .step("ListAttachedRolePolicies")
        .absent(NO_SUCH_ENTITY)?;
    for arn in attached
        .iter()
        .flat_map(|a| a.attached_policies())
        .filter_map(|p| p.policy_arn())
    {
        detach_policy(iam, role, arn).await?;
    }
    iam.delete_role()
        .role_name(role)
        .send()
        .await
        .step("DeleteRole")
        .absent(NO_SUCH_ENTITY)?;
    Ok(())
}

/// IAM tags from a map, for CreateRole and TagRole.
pub fn tags(tags: &BTreeMap<String, String>) -> Result<Vec<Tag>, StepError> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build().step("TagRole"))
        .collect()
}

/// Brings a role's tags from `have` to `want`: UntagRole for the keys that go, TagRole for the
/// keys that are new or changed; no call when they already match.
pub async fn retag_role(
    iam: &Client,
    role: &str,
    have: &BTreeMap<String, String>,
    want: &BTreeMap<String, String>,
) -> Result<(), StepError> {
    let diff = TagDiff::between(have, want);
    if !diff.remove.is_empty() {
        iam.untag_role()
            .role_name(role)
            .set_tag_keys(Some(diff.remove))
            .send()
            .await
            .step("UntagRole")?;
    }
    if !diff.set.is_empty() {
        iam.tag_role()
            .role_name(role)
            .set_tags(Some(tags(&diff.set)?))
            .send()
            .await
            .step("TagRole")?;
    }
    Ok(())
}
